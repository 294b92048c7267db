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
import type { ConversationEntity } from '../conversations/conversation.entity';
import { ConversationsService } from '../conversations/conversations.service';
import { toMessageDto } from '../conversations/message.mapper';
import type { MessageEntity } from '../conversations/message.entity';
import { MessagesRepository } from '../conversations/messages.repository';
import { StoreOutagePolicy } from '../limits/store-outage.policy';
import { CacheStore } from '../memory/cache.store';
import { SentimentScorer } from '../sentiment/sentiment.scorer';
import type { ChatConnection } from './chat.connection';
import { ChatHub } from './chat.hub';
import { GenerationRegistry } from './generation/generation.registry';
import {
  GenerationRunner,
  type GenerationJob,
  type GenerationOutcome,
} from './generation/generation.runner';
import { ReplyBuffer, type BufferedReply } from './generation/reply-buffer';
import { SendAdmission } from './send-admission';

/** How long a send's claim on its clientMessageId lasts if its node dies before storing it. */
const CLAIM_TTL_MS = 30_000;
/** How long a concurrent repeat waits for its first send's exchange, and how often it looks. */
const REPEAT_WAIT_MS = 5000;
const REPEAT_POLL_MS = 20;
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
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesRepository,
    private readonly cache: CacheStore,
    private readonly hub: ChatHub,
    private readonly runner: GenerationRunner,
    private readonly registry: GenerationRegistry,
    private readonly buffer: ReplyBuffer,
    private readonly admission: SendAdmission,
    private readonly outage: StoreOutagePolicy,
    private readonly sentiment: SentimentScorer,
  ) {}

  /**
   * Stores the user message and its (streaming) reply, then starts the generation without waiting
   * for it. Repeating a clientMessageId returns the first send's ids with `duplicate: true`, and
   * costs no rate limit, quota or slot.
   */
  async send(
    user: AuthUser,
    request: SendMessageRequest,
    options: SendOptions = {},
  ): Promise<Sent> {
    const { clientMessageId } = request;
    const [earlier, claimed] = await Promise.all([
      this.messages.findExchange(user.id, clientMessageId),
      this.claim(user, clientMessageId),
    ]);
    if (earlier) {
      if (claimed) this.releaseClaim(user, clientMessageId);
      return duplicateAck(earlier);
    }
    return claimed
      ? this.storeClaimed(user, request, options)
      : this.repeatOfPending(user, request, options);
  }

  private async storeClaimed(
    user: AuthUser,
    request: SendMessageRequest,
    options: SendOptions,
  ): Promise<Sent> {
    try {
      return await this.store(user, request, options);
    } finally {
      // The stored exchange (or nothing, after a refusal) answers repeats from now on.
      this.releaseClaim(user, request.clientMessageId);
    }
  }

  /** Admission, conversation and the exchange's one insert; the ownership read runs beside the limits. */
  private async store(user: AuthUser, request: SendMessageRequest, options: SendOptions) {
    const owned = request.conversationId
      ? this.conversations.getOwned(user, request.conversationId)
      : undefined;
    owned?.catch(() => undefined); // awaited below, after the limits have had their say
    const admission = await this.admission.admit(user);
    try {
      const conversation = (await owned) ?? (await this.newConversation(user, request, options));
      const stored = await this.messages.insertExchange({
        conversationId: conversation.id,
        userId: user.id,
        clientMessageId: request.clientMessageId,
        content: request.content,
        context: request.context ?? null,
      });
      if (!stored) {
        // A concurrent repeat won at the unique index (its claim was lost to a store outage or expiry).
        await admission.cancel();
        if (!owned && !options.sessionId)
          await this.conversations.discardEmpty(user, conversation.id);
        return duplicateAck((await this.messages.findExchange(user.id, request.clientMessageId))!);
      }
      const start = (onDelta?: (delta: ChatDelta) => void) =>
        this.start(
          { conversation, ...stored, reservation: admission.reservation },
          onDelta,
        ).finally(() => admission.freeSlot());
      const ack = {
        conversationId: conversation.id,
        messageId: stored.message.id,
        replyId: stored.reply.id,
        duplicate: false,
      };
      return { ack, start };
    } catch (err) {
      await admission.cancel();
      throw err;
    }
  }

  /**
   * Marks this clientMessageId as being sent, on every node, so that concurrent repeats wait for its
   * exchange instead of passing the limits (and reaching the model) a second time.
   */
  private async claim(user: AuthUser, clientMessageId: string): Promise<boolean> {
    try {
      return await this.cache.setIfAbsent(claimKey(user, clientMessageId), '1', CLAIM_TTL_MS);
    } catch (err) {
      // Failing open: the unique index still stores one exchange; a repeat may reach the limits.
      this.outage.tolerate('idempotency claims', err as Error);
      return true;
    }
  }

  private releaseClaim(user: AuthUser, clientMessageId: string): void {
    this.cache.delete(claimKey(user, clientMessageId)).catch(() => undefined);
  }

  /** A repeat that arrived while its first send is being stored: that send's ids, once stored. */
  private async repeatOfPending(
    user: AuthUser,
    request: SendMessageRequest,
    options: SendOptions,
  ): Promise<Sent> {
    const deadline = Date.now() + REPEAT_WAIT_MS;
    while (Date.now() < deadline) {
      await sleep(REPEAT_POLL_MS);
      const earlier = await this.messages.findExchange(user.id, request.clientMessageId);
      if (earlier) return duplicateAck(earlier);
      // The first send was refused or failed: this one is the send now.
      if (await this.claim(user, request.clientMessageId))
        return this.storeClaimed(user, request, options);
    }
    throw new AppError(
      'conflict',
      'A message with this clientMessageId is still being stored; retry shortly',
      undefined,
      1,
    );
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
    let buffered: BufferedReply | null;
    let current: MessageEntity | null;
    try {
      buffered = await this.buffer.read(replyId, afterSeq);
      current = buffered?.final ? null : await this.messages.byId(replyId);
    } catch (err) {
      connection.cancelReplay(replyId);
      throw err;
    }
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

  private newConversation(
    user: AuthUser,
    request: SendMessageRequest,
    { sessionId }: SendOptions,
  ): Promise<ConversationEntity> {
    const title = request.content.slice(0, TITLE_CHARS);
    if (sessionId) return this.conversations.forSession(user, sessionId, title);
    return this.conversations.create(user, { title });
  }

  private start(
    job: GenerationJob,
    onDelta?: (delta: ChatDelta) => void,
  ): Promise<GenerationOutcome> {
    const { conversation, message } = job;
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
    return this.runner.run(job, onDelta);
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

const claimKey = (user: AuthUser, clientMessageId: string) =>
  `charla:sending:${user.id}:${clientMessageId}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
