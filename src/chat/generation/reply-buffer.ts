import type { ChatDelta, MessageDto } from '@charla/contracts';

export interface BufferedReply {
  deltas: ChatDelta[];
  /** The stored final message once the reply has ended, in any way. */
  final: MessageDto | null;
  /** Highest seq buffered so far (0 when none). */
  lastSeq: number;
}

/**
 * Every delta of a reply, by seq, kept while it streams and `CHAT_RESUME_TTL_S` after it ends, so
 * `chat:resume` on any node replays exactly what a client missed. Redis Streams when REDIS_URL is
 * set, in-process otherwise.
 */
export abstract class ReplyBuffer {
  abstract append(delta: ChatDelta): Promise<void>;
  abstract finish(replyId: string, lastSeq: number, final: MessageDto): Promise<void>;
  /** Deltas with seq > afterSeq; null when the reply was never buffered or has expired. */
  abstract read(replyId: string, afterSeq: number): Promise<BufferedReply | null>;
  abstract delete(replyIds: string[]): Promise<void>;
}
