import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, Repository } from 'typeorm';
import type { TokenUsage } from '../llm/llm.provider';
import { MessageEntity } from './message.entity';

export interface NewExchange {
  conversationId: string;
  userId: string;
  clientMessageId: string;
  content: string;
  context: Record<string, unknown> | null;
}

export interface ReplyOutcome {
  content: string;
  status: 'complete' | 'aborted' | 'failed' | 'interrupted';
  model: string | null;
  finishReason: string | null;
  usage: TokenUsage | null;
}

/** The message writes and reads of the chat path, each one statement. */
@Injectable()
export class MessagesRepository {
  private readonly messages: Repository<MessageEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.messages = dataSource.getRepository(MessageEntity);
  }

  /**
   * Stores a user message and its assistant reply (status `streaming`) in one statement, and marks
   * the conversation active. Returns null when the user already sent this clientMessageId: the
   * unique index decides, so concurrent repeats on any node store exactly one exchange.
   */
  async insertExchange(
    exchange: NewExchange,
  ): Promise<{ message: MessageEntity; reply: MessageEntity } | null> {
    const messageId = randomUUID();
    const replyId = randomUUID();
    const rows: { id: string }[] = await this.dataSource.query(
      `WITH sent AS (
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, client_message_id, context)
         VALUES ($1, $3, $4, 'user', $5, 'complete', $6, $7)
         ON CONFLICT (user_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
         RETURNING id
       ), reply AS (
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, in_reply_to)
         SELECT $2, $3, $4, 'assistant', '', 'streaming', id FROM sent
         RETURNING id
       ), touched AS (
         UPDATE conversations SET updated_at = now() WHERE id = $3 AND EXISTS (SELECT 1 FROM sent)
       )
       SELECT id FROM reply`,
      [
        messageId,
        replyId,
        exchange.conversationId,
        exchange.userId,
        exchange.content,
        exchange.clientMessageId,
        exchange.context === null ? null : JSON.stringify(exchange.context),
      ],
    );
    if (rows.length === 0) return null;
    const [message, reply] = await Promise.all([this.byId(messageId), this.byId(replyId)]);
    return { message: message!, reply: reply! };
  }

  /** The exchange an earlier send with this clientMessageId stored. */
  async findExchange(
    userId: string,
    clientMessageId: string,
  ): Promise<{ message: MessageEntity; reply: MessageEntity } | null> {
    const message = await this.messages.findOneBy({ userId, clientMessageId });
    if (!message) return null;
    const reply = await this.messages.findOneBy({ inReplyTo: message.id });
    return reply ? { message, reply } : null;
  }

  /** Ids of the assistant replies in scope, whose resume buffers go when the conversation does. */
  async replyIds(scope: { conversationId: string } | { userId: string }): Promise<string[]> {
    const rows = await this.messages.find({
      select: { id: true },
      where: { ...scope, role: 'assistant' },
    });
    return rows.map((r) => r.id);
  }

  byId(id: string): Promise<MessageEntity | null> {
    return this.messages.findOneBy({ id });
  }

  /** The second and last write of a reply: its final content, status and usage. */
  async finishReply(replyId: string, outcome: ReplyOutcome): Promise<MessageEntity> {
    await this.messages.update(
      { id: replyId },
      {
        content: outcome.content,
        status: outcome.status,
        model: outcome.model,
        finishReason: outcome.finishReason,
        promptTokens: outcome.usage?.promptTokens ?? null,
        completionTokens: outcome.usage?.completionTokens ?? null,
        usageEstimated: outcome.usage?.estimated ?? null,
      },
    );
    return (await this.byId(replyId))!;
  }
}
