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

/** What an insert of the chat path reads back: the columns the database fills in. */
interface StoredRow {
  id: string;
  position: string | number;
  created_at: string | Date;
  updated_at: string | Date;
}

/** The nullable columns of a new message, as a read would give them back. */
const UNSET = {
  clientMessageId: null,
  inReplyTo: null,
  model: null,
  finishReason: null,
  promptTokens: null,
  completionTokens: null,
  usageEstimated: null,
  sentimentLabel: null,
  sentimentScore: null,
  context: null,
} satisfies Partial<MessageEntity>;

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
    const message = this.messages.create({
      ...UNSET,
      id: randomUUID(),
      conversationId: exchange.conversationId,
      userId: exchange.userId,
      role: 'user',
      content: exchange.content,
      status: 'complete',
      clientMessageId: exchange.clientMessageId,
      context: exchange.context,
    });
    const reply = this.messages.create({
      ...UNSET,
      id: randomUUID(),
      conversationId: exchange.conversationId,
      userId: exchange.userId,
      role: 'assistant',
      content: '',
      status: 'streaming',
      inReplyTo: message.id,
    });
    // What the database assigns comes back with the insert: no second round trip before the ack.
    const rows: StoredRow[] = await this.dataSource.query(
      `WITH sent AS (
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, client_message_id, context)
         VALUES ($1, $3, $4, 'user', $5, 'complete', $6, $7)
         ON CONFLICT (user_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
         RETURNING id, position, created_at, updated_at
       ), reply AS (
         INSERT INTO messages (id, conversation_id, user_id, role, content, status, in_reply_to)
         SELECT $2, $3, $4, 'assistant', '', 'streaming', id FROM sent
         RETURNING id, position, created_at, updated_at
       ), touched AS (
         UPDATE conversations SET updated_at = now() WHERE id = $3 AND EXISTS (SELECT 1 FROM sent)
       )
       SELECT * FROM sent UNION ALL SELECT * FROM reply`,
      [
        message.id,
        reply.id,
        exchange.conversationId,
        exchange.userId,
        exchange.content,
        exchange.clientMessageId,
        exchange.context === null ? null : JSON.stringify(exchange.context),
      ],
    );
    if (rows.length !== 2) return null;
    for (const entity of [message, reply]) {
      const row = rows.find((r) => r.id === entity.id)!;
      Object.assign(entity, {
        position: Number(row.position),
        createdAt: new Date(row.created_at),
        updatedAt: new Date(row.updated_at),
      });
    }
    return { message, reply };
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

  byId(id: string): Promise<MessageEntity | null> {
    return this.messages.findOneBy({ id });
  }

  /**
   * The second and last write of a reply: its final content, status and usage. Null when the reply
   * is gone (its conversation or its user's history was deleted while it streamed).
   */
  async finishReply(replyId: string, outcome: ReplyOutcome): Promise<MessageEntity | null> {
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
    return this.byId(replyId);
  }
}
