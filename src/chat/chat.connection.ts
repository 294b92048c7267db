import type { ChatDelta, ServerToClientEvents } from '@charla/contracts';
import { randomUUID } from 'node:crypto';
import type { AuthUser } from '../auth/auth-user';

export type ServerEvent = keyof ServerToClientEvents;
export type EventData<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

/** What a gateway gives the chat layer for one socket. */
export interface SocketTransport {
  emit(event: ServerEvent, data: unknown): void;
  disconnect(): void;
}

type ReplyEvent = 'chat:delta' | 'chat:done' | 'chat:error';
const REPLY_EVENTS = new Set<ServerEvent>(['chat:delta', 'chat:done', 'chat:error']);
// setTimeout cannot wait longer than ~24.8 days.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One authenticated socket, whatever its transport. It guarantees each reply's deltas reach the
 * client in seq order, without gaps or duplicates, from seq 1 or from a `chat:resume`'s `afterSeq`,
 * also while the resume replays missed ones.
 */
export class ChatConnection {
  readonly id = randomUUID();
  readonly joined = new Set<string>();
  /** replyId → highest seq this socket has been sent. */
  private readonly sentSeq = new Map<string, number>();
  /** Replies whose chat:done or chat:error this socket has been sent: nothing of them follows. */
  private readonly finished = new Set<string>();
  /** replyId → live reply events held back while the buffer is replayed. */
  private readonly held = new Map<string, [ReplyEvent, unknown][]>();
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    private readonly transport: SocketTransport,
    private authUser: AuthUser,
  ) {
    this.scheduleExpiry();
  }

  get user(): AuthUser {
    return this.authUser;
  }

  emit<E extends ServerEvent>(event: E, data: EventData<E>): void {
    if (!REPLY_EVENTS.has(event)) return this.transport.emit(event, data);
    const replyId = (data as { replyId: string }).replyId;
    const held = this.held.get(replyId);
    if (held) held.push([event as ReplyEvent, data]);
    else this.emitReplyEvent(event as ReplyEvent, data);
  }

  /** Holds live events of a reply until `endReplay`; seqs up to `afterSeq` are never sent again. */
  beginReplay(replyId: string, afterSeq: number): void {
    this.finished.delete(replyId);
    this.sentSeq.set(replyId, afterSeq);
    if (!this.held.has(replyId)) this.held.set(replyId, []);
  }

  /**
   * A replay that could not be read: what was held is dropped, and the reply's live deltas are not
   * sent from the middle either; the client resumes again.
   */
  cancelReplay(replyId: string): void {
    this.held.delete(replyId);
    this.sentSeq.delete(replyId);
  }

  /** Sends the replayed events, then whatever arrived live meanwhile, skipping what was already sent. */
  endReplay(replyId: string, replayed: [ReplyEvent, unknown][]): void {
    const live = this.held.get(replyId) ?? [];
    this.held.delete(replyId);
    for (const [event, data] of [...replayed, ...live]) this.emitReplyEvent(event, data);
  }

  /** Swaps in a refreshed token's identity (same user) and re-arms the expiry. */
  refresh(user: AuthUser): void {
    this.authUser = user;
    this.scheduleExpiry();
  }

  close(): void {
    clearTimeout(this.expiryTimer);
    this.transport.disconnect();
  }

  dispose(): void {
    clearTimeout(this.expiryTimer);
  }

  private emitReplyEvent(event: ReplyEvent, data: unknown): void {
    const replyId = (data as { replyId: string }).replyId;
    if (this.finished.has(replyId)) return;
    if (event === 'chat:delta') {
      const { seq } = data as ChatDelta;
      const sent = this.sentSeq.get(replyId);
      // A socket that connected mid-reply gets its deltas from chat:resume, in order, not from the middle:
      // live ones sent first would arrive before the replayed ones, which clients then drop as already seen.
      if (sent === undefined ? seq !== 1 : seq <= sent) return;
      this.sentSeq.set(replyId, seq);
    } else {
      this.finished.add(replyId);
      this.sentSeq.delete(replyId);
    }
    this.transport.emit(event, data);
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    if (this.authUser.expiresAt === undefined) return;
    const delay = Math.min(Math.max(this.authUser.expiresAt - Date.now(), 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      this.transport.emit('auth:expired', {});
      this.transport.disconnect();
    }, delay);
    this.expiryTimer.unref();
  }
}
