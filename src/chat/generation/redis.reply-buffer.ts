import type { ChatDelta, MessageDto } from '@charla/contracts';
import type Redis from 'ioredis';
import { BufferedReply, ReplyBuffer } from './reply-buffer';

const key = (replyId: string) => `charla:reply:${replyId}`;

/**
 * ReplyBuffer on Redis Streams. Entry ids are `<seq>-0` for deltas and `<lastSeq>-1` for the final
 * message, so a resume is one XRANGE starting right after the client's seq.
 */
export class RedisReplyBuffer extends ReplyBuffer {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
  ) {
    super();
  }

  async append(delta: ChatDelta): Promise<void> {
    const k = key(delta.replyId);
    // Auto-pipelined with the delta's publish. Refreshing the expiry on every delta would double
    // the commands; once early is enough while streaming.
    const added = this.redis.xadd(k, `${delta.seq}-0`, 't', delta.text, 'c', delta.conversationId);
    if (delta.seq === 1) await Promise.all([added, this.redis.pexpire(k, this.ttlMs)]);
    else await added;
  }

  async finish(replyId: string, lastSeq: number, final: MessageDto): Promise<void> {
    await this.redis
      .pipeline()
      .xadd(key(replyId), `${lastSeq}-1`, 'final', JSON.stringify(final))
      .pexpire(key(replyId), this.ttlMs)
      .exec();
  }

  async read(replyId: string, afterSeq: number): Promise<BufferedReply | null> {
    const entries = await this.redis.xrange(key(replyId), `${afterSeq + 1}-0`, '+');
    if (entries.length === 0 && (await this.redis.exists(key(replyId))) === 0) return null;
    const reply: BufferedReply = { deltas: [], final: null, lastSeq: afterSeq };
    for (const [id, fields] of entries) {
      const [seq, kind] = id.split('-').map(Number);
      const field = Object.fromEntries(pairs(fields));
      if (kind === 1) {
        reply.final = JSON.parse(field.final) as MessageDto;
      } else {
        reply.deltas.push({ conversationId: field.c, replyId, seq, text: field.t });
        reply.lastSeq = seq;
      }
    }
    return reply;
  }

  async delete(replyIds: string[]): Promise<void> {
    if (replyIds.length) await this.redis.del(...replyIds.map(key));
  }
}

function pairs(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i], fields[i + 1]]);
  return out;
}
