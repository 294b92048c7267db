import type { ChatDelta, MessageDto } from '@charla/contracts';
import type { OnModuleDestroy } from '@nestjs/common';
import { BufferedReply, ReplyBuffer } from './reply-buffer';

interface Entry {
  deltas: ChatDelta[];
  final: MessageDto | null;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 60_000;

/** Single-process ReplyBuffer. A streaming reply is kept for `ttlMs` too, in case its node never finishes it. */
export class InMemoryReplyBuffer extends ReplyBuffer implements OnModuleDestroy {
  private readonly replies = new Map<string, Entry>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  constructor(private readonly ttlMs: number) {
    super();
  }

  async append(delta: ChatDelta): Promise<void> {
    const entry = this.replies.get(delta.replyId) ?? { deltas: [], final: null, expiresAt: 0 };
    entry.deltas.push(delta);
    entry.expiresAt = Date.now() + this.ttlMs;
    this.replies.set(delta.replyId, entry);
  }

  async finish(replyId: string, _lastSeq: number, final: MessageDto): Promise<void> {
    const entry = this.replies.get(replyId) ?? { deltas: [], final: null, expiresAt: 0 };
    entry.final = final;
    entry.expiresAt = Date.now() + this.ttlMs;
    this.replies.set(replyId, entry);
  }

  async read(replyId: string, afterSeq: number): Promise<BufferedReply | null> {
    const entry = this.replies.get(replyId);
    if (!entry || entry.expiresAt <= Date.now()) return null;
    return {
      deltas: entry.deltas.filter((d) => d.seq > afterSeq),
      final: entry.final,
      lastSeq: entry.deltas.at(-1)?.seq ?? 0,
    };
  }

  async delete(replyIds: string[]): Promise<void> {
    for (const id of replyIds) this.replies.delete(id);
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.replies) if (entry.expiresAt <= now) this.replies.delete(id);
  }
}
