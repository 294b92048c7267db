import { Injectable, Logger } from '@nestjs/common';
import type { UsageToday } from '@charla/contracts';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';
import { CacheStore } from '../memory/cache.store';

const DAY_MS = 24 * 3600 * 1000;
// Counters outlive their day a little, so a late charge still lands on the right day.
const KEEP_AFTER_DAY_MS = 3600 * 1000;

/**
 * Tokens (prompt + completion) each user may spend per UTC day. Checked before a generation starts,
 * charged with the real usage when it ends, whatever the ending (complete, aborted, failed).
 * Concurrent sends that pass the check together may overshoot by at most CHAT_MAX_CONCURRENT replies.
 */
@Injectable()
export class QuotaService {
  private readonly logger = new Logger(QuotaService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly cache: CacheStore,
  ) {}

  async usage(userId: string, now = new Date()): Promise<UsageToday> {
    const quota = this.config.limits.dailyTokens || null;
    const tokensUsed = Number((await this.cache.get(key(userId, now))) ?? 0);
    return {
      date: day(now),
      tokensUsed,
      quota,
      remaining: quota === null ? null : Math.max(0, quota - tokensUsed),
      resetsAt: nextMidnight(now).toISOString(),
    };
  }

  /** Throws `quota_exceeded` (with the reset time) when the user has nothing left today. */
  async check(userId: string): Promise<void> {
    if (!this.config.limits.dailyTokens) return;
    const now = new Date();
    const usage = await this.usage(userId, now);
    if (usage.remaining === 0) {
      const retryAfter = Math.ceil((nextMidnight(now).getTime() - now.getTime()) / 1000);
      throw new AppError(
        'quota_exceeded',
        `Daily token quota of ${usage.quota} used up; it resets at ${usage.resetsAt}`,
        { quota: usage.quota, used: usage.tokensUsed, resetsAt: usage.resetsAt },
        retryAfter,
      );
    }
  }

  /** Adds what a generation consumed; never throws (a lost charge is logged, the reply stands). */
  async charge(userId: string, tokens: number): Promise<void> {
    if (tokens <= 0) return;
    const now = new Date();
    const windowMs = nextMidnight(now).getTime() - now.getTime() + KEEP_AFTER_DAY_MS;
    await this.cache
      .increment(key(userId, now), windowMs, tokens)
      .catch((err: Error) =>
        this.logger.error(`Quota charge of ${tokens} lost for a user: ${err.message}`),
      );
  }
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const key = (userId: string, d: Date) => `charla:quota:${userId}:${day(d)}`;
const nextMidnight = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS + DAY_MS);
