import { Injectable } from '@nestjs/common';
import type {
  ChatDelta,
  ReplyStatus,
  ResumeRequest,
  SendAck,
  SendMessageRequest,
  TypingRequest,
} from '@charla/contracts';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';
import type { ConversationEntity } from '../conversations/conversation.entity';
import { ConversationsService } from '../conversations/conversations.service';
import { toMessageDto } from '../conversations/message.mapper';
import type { MessageEntity } from '../conversations/message.entity';
import { MessagesRepository } from '../conversations/messages.repository';
import { QuotaService } from '../limits/quota.service';
import { RateLimiter } from '../limits/rate-limiter';
import { CacheStore } from '../memory/cache.store';
import { SentimentScorer } from '../sentiment/sentiment.scorer';
import type { ChatConnection } from './chat.connection';
import { ChatHub } from './chat.hub';
import { GenerationRegistry } from './generation/generation.registry';
import { GenerationRunner, type GenerationOutcome } from './generation/generation.runner';
import { ReplyBuffer } from './generation/reply-buffer';

/** A generation's slot is held at most this long if its node dies without releasing it. */
const SLOT_LEASE_MS = 15 * 60_000;
/** How long an abort waits for the reply's final state before acking what it sees. */
const ABORT_WAIT_MS = 3000;
const TITLE_CHARS = 60;

export interface SendOptions {
  /** `POST /api/chat`: the client's name for the conversation, created on first use. */
  sessionId?: string;
}

export interface Sent {
  ack: SendAck;
  /**
   * Starts the generation; call it right after the ack is written, so the client knows the ids
   * before any event about them. Absent for a duplicate send. Settles when the reply is stored.
   */
  start?: (onDelta?: (delta: ChatDelta) => void) => Promise<GenerationOutcome>;
}

/**
 * The chat use cases, whatever the transport: the Socket.IO and WebSocket gateways and the REST
 * controller parse and authenticate, then call these.
 */
@Injectable()
export class ChatService {
  constructor(
    private readonly config: AppConfig,
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesRepository,
    private readonly cache: CacheStore,
    private readonly hub: ChatHub,
    private readonly runner: GenerationRunner,
    private readonly registry: GenerationRegistry,
    private readonly buffer: ReplyBuffer,
    private readonly limiter: RateLimiter,
    private readonly quota: QuotaService,
    private readonly sentiment: SentimentScorer,
  ) {}

  /**
   * Stores the user message and its (streaming) reply, then starts the generation without waiting
   * for it. Repeating a clientMessageId returns the first send's ids with `duplicate: true`.
   */
  async send(
    user: AuthUser,
    request: SendMessageRequest,
    options: SendOptions = {},
  ): Promise<Sent> {
    const earlier = await this.messages.findExchange(user.id, request.clientMessageId);
    if (earlier) return duplicateAck(earlier);
    // A repeat is free (a flaky network retries); a new message counts, on every transport alike.
    await this.limiter.consume('chat', user.id);
    await this.quota.check(user.id);

    const slotKey = `charla:running:${user.id}`;
    // Named by the send, so concurrent repeats of it share its one slot instead of being refused.
    const slotId = request.clientMessageId;
    if (
      !(await this.cache.acquireSlot(
        slotKey,
        slotId,
        this.config.chat.maxConcurrent,
        SLOT_LEASE_MS,
      ))
    ) {
      throw new AppError(
        'rate_limited',
        `At most ${this.config.chat.maxConcurrent} replies can be generated at once; wait for one to finish`,
        undefined,
        1,
      );
    }
    try {
      const conversation = await this.conversationFor(user, request, options.sessionId);
      const stored = await this.messages.insertExchange({
        conversationId: conversation.id,
        userId: user.id,
        clientMessageId: request.clientMessageId,
        content: request.content,
        context: request.context ?? null,
      });
      if (!stored) {
        // A concurrent repeat won the race: its exchange is the one, this send created nothing but maybe a conversation.
        const winner = (await this.messages.findExchange(user.id, request.clientMessageId))!;
        // The shared slot is released by the winner's generation; once that ended, this send re-took it.
        if (winner.reply.status !== 'streaming') await this.cache.releaseSlot(slotKey, slotId);
        if (!request.conversationId && !options.sessionId)
          await this.conversations.remove(user, conversation.id);
        return duplicateAck(winner);
      }
      const start = (onDelta?: (delta: ChatDelta) => void) =>
        this.start(conversation, stored.message, stored.reply, onDelta).finally(() =>
          this.cache.releaseSlot(slotKey, slotId).catch(() => undefined),
        );
      const ack = {
        conversationId: conversation.id,
        messageId: stored.message.id,
        replyId: stored.reply.id,
        duplicate: false,
      };
      return { ack, start };
    } catch (err) {
      await this.cache.releaseSlot(slotKey, slotId).catch(() => undefined);
      throw err;
    }
  }

  /** Stops a running reply from any socket of its owner on any node; a finished one acks its status. */
  async abort(user: AuthUser, replyId: string): Promise<{ status: ReplyStatus }> {
    const reply = await this.ownedReply(user, replyId);
    if (reply.status !== 'streaming') return { status: reply.status };
    await this.registry.requestAbort(replyId);
    const local = this.registry.settled(replyId);
    if (local) await local;
    else await this.waitForReply(replyId, ABORT_WAIT_MS);
    return { status: (await this.messages.byId(replyId))!.status };
  }

  /**
   * Replays the deltas after `afterSeq` to this socket, then the final message if the reply ended,
   * and from then on its live deltas — in seq order, none twice. Returns what the ack carries; the
   * replay starts right after the ack.
   */
  async resume(
    user: AuthUser,
    connection: ChatConnection,
    { replyId, afterSeq }: ResumeRequest,
  ): Promise<{ status: ReplyStatus; lastSeq: number; replay: () => void }> {
    const reply = await this.ownedReply(user, replyId);
    connection.beginReplay(replyId, afterSeq);
    const buffered = await this.buffer.read(replyId, afterSeq);
    const current = buffered?.final ? null : await this.messages.byId(replyId);
    const final =
      buffered?.final ?? (current && current.status !== 'streaming' ? toMessageDto(current) : null);
    const events: ['chat:delta' | 'chat:done', unknown][] = (buffered?.deltas ?? []).map((d) => [
      'chat:delta',
      d,
    ]);
    if (final)
      events.push(['chat:done', { conversationId: reply.conversationId, replyId, message: final }]);
    return {
      status: final?.status ?? reply.status,
      lastSeq: buffered?.lastSeq ?? afterSeq,
      replay: () => connection.endReplay(replyId, events),
    };
  }

  async join(connection: ChatConnection, conversationId: string): Promise<void> {
    await this.conversations.get(connection.user, conversationId);
    this.hub.join(connection, conversationId);
  }

  leave(connection: ChatConnection, conversationId: string): void {
    this.hub.leave(connection, conversationId);
  }

  /** Relays a user's typing indicator to the conversation's other sockets. */
  async typing(
    connection: ChatConnection,
    { conversationId, isTyping }: TypingRequest,
  ): Promise<void> {
    const conversation = await this.conversations.get(connection.user, conversationId);
    this.hub.broadcast(
      { userId: conversation.userId, conversationId },
      'typing',
      { conversationId, actor: 'user', userId: connection.user.id, isTyping },
      connection,
    );
  }

  private conversationFor(
    user: AuthUser,
    request: SendMessageRequest,
    sessionId?: string,
  ): Promise<ConversationEntity> {
    const title = request.content.slice(0, TITLE_CHARS);
    if (request.conversationId) return this.conversations.getOwned(user, request.conversationId);
    if (sessionId) return this.conversations.forSession(user, sessionId, title);
    return this.conversations.create(user, { title });
  }

  private start(
    conversation: ConversationEntity,
    message: MessageEntity,
    reply: MessageEntity,
    onDelta?: (delta: ChatDelta) => void,
  ): Promise<GenerationOutcome> {
    const audience = { userId: conversation.userId, conversationId: conversation.id };
    this.hub.broadcast(audience, 'chat:message', {
      conversationId: conversation.id,
      message: toMessageDto(message),
    });
    // Scored off the hot path, after chat:message so a client never sees a sentiment before its message.
    this.sentiment.enqueue({
      messageId: message.id,
      conversationId: conversation.id,
      userId: conversation.userId,
      content: message.content,
    });
    return this.runner.run({ conversation, message, reply }, onDelta);
  }

  /** Another user's reply answers exactly like a missing one. */
  private async ownedReply(user: AuthUser, replyId: string): Promise<MessageEntity> {
    const reply = await this.messages.byId(replyId);
    if (!reply || reply.role !== 'assistant' || reply.userId !== user.id)
      throw AppError.notFound('Reply');
    return reply;
  }

  /** The reply once it has ended (any status), or as it is after `timeoutMs`. */
  async waitForReply(replyId: string, timeoutMs: number): Promise<MessageEntity> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = (await this.messages.byId(replyId))!;
      if (reply.status !== 'streaming' || Date.now() >= deadline) return reply;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function duplicateAck({ message, reply }: { message: MessageEntity; reply: MessageEntity }): Sent {
  return {
    ack: {
      conversationId: message.conversationId,
      messageId: message.id,
      replyId: reply.id,
      duplicate: true,
    },
  };
}
