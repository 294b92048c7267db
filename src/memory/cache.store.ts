/** Result of an atomic counter increment inside a fixed window. */
export interface WindowCount {
  count: number;
  /** Milliseconds until the window (and the counter) expires. */
  ttlMs: number;
}

/**
 * Short-lived shared state: idempotency keys, counters, cached values. Redis when REDIS_URL is
 * set (shared by every node), in-process otherwise. PostgreSQL stays the source of truth.
 */
export abstract class CacheStore {
  abstract readonly kind: 'redis' | 'memory';
  abstract get(key: string): Promise<string | null>;
  abstract set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Sets the key only if it does not exist; true when this call set it. */
  abstract setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  abstract delete(...keys: string[]): Promise<void>;
  /** Adds `by` (default 1) to a counter; the first increment starts a window of `windowMs`. */
  abstract increment(key: string, windowMs: number, by?: number): Promise<WindowCount>;
  /**
   * Takes one of `limit` slots named by `key` for `member` (e.g. a user's running generations).
   * A slot expires after `leaseMs` even if never released, so a crashed node cannot leak it.
   */
  abstract acquireSlot(
    key: string,
    member: string,
    limit: number,
    leaseMs: number,
  ): Promise<boolean>;
  abstract releaseSlot(key: string, member: string): Promise<void>;
  /** True when the backing store answers. */
  abstract ping(): Promise<boolean>;
}
