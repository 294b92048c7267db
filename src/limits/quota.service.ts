import { Injectable, Logger } from '@nestjs/common';
import type { UsageToday } from '@charla/contracts';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';
import { CacheStore } from '../memory/cache.store';
import { StoreOutagePolicy } from './store-outage.policy';

const DAY_MS = 24 * 3600 * 1000;
// Counters outlive their day a little, so a late charge still lands on the right day.
const KEEP_AFTER_DAY_MS = 3600 * 1000;

/** Tokens held on one day's counter for a generation that has not ended yet. */
export interface QuotaReservation {
  counter: string;
  tokens: number;
}

/**
 * Tokens (prompt + completion) each user may spend per UTC day, counted per user and day in the
 * CacheStore (Redis: shared by every node). A send reserves the most its reply can stream with one
 * atomic increment before any upstream call, so concurrent sends cannot all pass on the same
 * remaining tokens; when the generation ends, however it ends, the reservation becomes the real usage.
 */
@Injectable()
export class QuotaService {
  private readonly logger = new Logger(QuotaService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly cache: CacheStore,
    private readonly outage: StoreOutagePolicy,
  ) {}

  /** Today's counter: running replies count with their reservation until they end. */
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

  /**
   * Holds one reply's worth (LLM_MAX_OUTPUT_TOKENS, at most the whole quota) for a generation about
   * to start, or throws `quota_exceeded` with the reset time when that is more than is left today.
   * Null when there is no quota, or the store is down and limits fail open.
   */
  async reserve(userId: string): Promise<QuotaReservation | null> {
    const quota = this.config.limits.dailyTokens;
    if (!quota) return null;
    const now = new Date();
    const reservation = {
      counter: key(userId, now),
      tokens: Math.min(this.config.llm.maxOutputTokens, quota),
    };
    let total: number;
    try {
      ({ count: total } = await this.cache.increment(
        reservation.counter,
        keepMs(now),
        reservation.tokens,
      ));
    } catch (err) {
      this.outage.tolerate('daily token quota', err as Error);
      return null;
    }
    if (total > quota) {
      await this.add(reservation.counter, -reservation.tokens);
      throw quotaExceeded(quota, total - reservation.tokens, now);
    }
    return reservation;
  }

  /**
   * Charges what a generation consumed, however it ended, in place of its reservation (on the day the
   * reservation was made); never throws (a lost charge is logged, the reply stands).
   */
  async settle(
    userId: string,
    reservation: QuotaReservation | null,
    usedTokens: number,
  ): Promise<void> {
    if (!reservation) return this.charge(userId, usedTokens);
    await this.add(reservation.counter, usedTokens - reservation.tokens);
  }

  /** Gives a reservation back, for a send that started no generation. */
  async release(reservation: QuotaReservation | null): Promise<void> {
    if (reservation) await this.add(reservation.counter, -reservation.tokens);
  }

  /**
   * For background calls charged to a user (summaries), which reserve nothing: throws
   * `quota_exceeded` when the user has nothing left today.
   */
  async check(userId: string): Promise<void> {
    const quota = this.config.limits.dailyTokens;
    const now = new Date();
    const { tokensUsed } = await this.usage(userId, now);
    if (quota && tokensUsed >= quota) throw quotaExceeded(quota, tokensUsed, now);
  }

  /** Adds what a background call consumed to today's counter; never throws. */
  charge(userId: string, tokens: number): Promise<void> {
    return this.add(key(userId, new Date()), tokens);
  }

  private async add(counter: string, tokens: number): Promise<void> {
    if (tokens === 0) return;
    await this.cache
      .increment(counter, keepMs(new Date()), tokens)
      .catch((err: Error) =>
        this.logger.error(`Quota change of ${tokens} tokens lost for a user: ${err.message}`),
      );
  }
}

function quotaExceeded(quota: number, used: number, now: Date): AppError {
  const resetsAt = nextMidnight(now);
  return new AppError(
    'quota_exceeded',
    `Not enough of the daily token quota of ${quota} is left (${Math.max(0, quota - used)} tokens) for a reply; it resets at ${resetsAt.toISOString()}`,
    { quota, used, resetsAt: resetsAt.toISOString() },
    Math.ceil((resetsAt.getTime() - now.getTime()) / 1000),
  );
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const key = (userId: string, d: Date) => `charla:quota:${userId}:${day(d)}`;
const nextMidnight = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS + DAY_MS);
/** How long a counter first written at `d` lives: to the end of its day, plus a margin. */
const keepMs = (d: Date) => nextMidnight(d).getTime() - d.getTime() + KEEP_AFTER_DAY_MS;
