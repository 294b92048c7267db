import type Redis from 'ioredis';
import { CacheStore, WindowCount } from './cache.store';

const PING_TIMEOUT_MS = 1000;

/** Atomically drops expired leases, then adds the member if a slot is free (or it already holds one). */
const ACQUIRE_SLOT = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** CacheStore on Redis: shared by every node. The connection is owned by MemoryModule. */
export class RedisCacheStore extends CacheStore {
  readonly kind = 'redis' as const;

  constructor(readonly redis: Redis) {
    super();
  }

  get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.redis.set(key, value, 'PX', ttlMs);
    else await this.redis.set(key, value);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(key, value, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys);
  }

  async increment(key: string, windowMs: number, by = 1): Promise<WindowCount> {
    // One round trip, atomic: the window starts with the first increment and never slides.
    const [[, count], , [, ttl]] = (await this.redis
      .multi()
      .incrby(key, by)
      .pexpire(key, windowMs, 'NX')
      .pttl(key)
      .exec()) as [[null, number], [null, number], [null, number]];
    return { count, ttlMs: ttl };
  }

  async acquireSlot(key: string, member: string, limit: number, leaseMs: number): Promise<boolean> {
    return (await this.redis.eval(ACQUIRE_SLOT, 1, key, Date.now(), member, limit, leaseMs)) === 1;
  }

  async releaseSlot(key: string, member: string): Promise<void> {
    await this.redis.zrem(key, member);
  }

  async ping(): Promise<boolean> {
    const timeout = new Promise<false>((resolve) =>
      setTimeout(resolve, PING_TIMEOUT_MS, false).unref(),
    );
    const pong = this.redis.ping().then(
      (r) => r === 'PONG',
      () => false,
    );
    return Promise.race([pong, timeout]);
  }
}
