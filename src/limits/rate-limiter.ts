import { Injectable } from '@nestjs/common';
import { AppConfig, type LimitName } from '../config/app.config';
import { CacheStore } from '../memory/cache.store';
import { MetricsService } from '../metrics/metrics.service';
import { RateLimitedError, type LimitState } from './rate-limited.error';
import { StoreOutagePolicy } from './store-outage.policy';

const DESCRIPTIONS: Record<LimitName, string> = {
  chat: 'messages',
  history: 'history reads',
  ip: 'requests from this address',
  handshake: 'connection attempts from this address',
};

/**
 * Fixed-window counters in the CacheStore (Redis: shared by every node), one per limit and tracker
 * (a user id or a client IP). When the store fails, StoreOutagePolicy decides.
 */
@Injectable()
export class RateLimiter {
  constructor(
    private readonly config: AppConfig,
    private readonly cache: CacheStore,
    private readonly metrics: MetricsService,
    private readonly outage: StoreOutagePolicy,
  ) {}

  /** Counts one hit; throws `RateLimitedError` past the limit. */
  async consume(name: LimitName, tracker: string): Promise<LimitState> {
    const limit = this.config.limits.perWindow[name];
    const windowMs = this.config.limits.windowMs;
    let count: number;
    let ttlMs: number;
    try {
      ({ count, ttlMs } = await this.cache.increment(`charla:rl:${name}:${tracker}`, windowMs));
    } catch (err) {
      this.outage.tolerate(`rate limit ${name}`, err as Error);
      // Failing open: nothing was counted, so the client is shown a whole window.
      return { limit, remaining: limit, resetSeconds: Math.ceil(windowMs / 1000) };
    }
    const state = {
      limit,
      remaining: Math.max(0, limit - count),
      resetSeconds: Math.ceil(ttlMs / 1000),
    };
    if (count > limit) {
      this.metrics.rateLimitRejections.inc({ limit: name });
      throw new RateLimitedError(
        `Too many ${DESCRIPTIONS[name]}: at most ${limit} every ${windowMs / 1000} s. Retry in ${state.resetSeconds} s`,
        state,
      );
    }
    return state;
  }
}
