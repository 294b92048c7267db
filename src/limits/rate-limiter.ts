import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../common/app.error';
import { AppConfig, type LimitName } from '../config/app.config';
import { CacheStore } from '../memory/cache.store';
import { MetricsService } from '../metrics/metrics.service';
import { RateLimitedError, type LimitState } from './rate-limited.error';

const DESCRIPTIONS: Record<LimitName, string> = {
  chat: 'messages',
  history: 'history reads',
  ip: 'requests from this address',
  handshake: 'connection attempts from this address',
};

/**
 * Fixed-window counters in the CacheStore (Redis: shared by every node), one per limit and tracker
 * (a user id or a client IP). When the store fails, RATE_LIMIT_FAIL_OPEN decides.
 */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);

  constructor(
    private readonly config: AppConfig,
    private readonly cache: CacheStore,
    private readonly metrics: MetricsService,
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
      return this.storeDown(name, limit, windowMs, err as Error);
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

  private storeDown(name: LimitName, limit: number, windowMs: number, err: Error): LimitState {
    this.logger.error(`Rate limit store unreachable (${name}): ${err.message}`);
    if (!this.config.limits.failOpen) {
      throw new AppError(
        'service_unavailable',
        'Rate limiting is unavailable; try again shortly',
        undefined,
        5,
      );
    }
    return { limit, remaining: limit, resetSeconds: Math.ceil(windowMs / 1000) };
  }
}
