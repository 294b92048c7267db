import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { AuthUser } from '../auth/auth-user';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';
import { QuotaService, type QuotaReservation } from '../limits/quota.service';
import { RateLimiter } from '../limits/rate-limiter';
import { StoreOutagePolicy } from '../limits/store-outage.policy';
import { CacheStore } from '../memory/cache.store';

/** A generation's slot is held at most this long if its node dies without releasing it. */
const SLOT_LEASE_MS = 15 * 60_000;

/** What a new message was granted before it is stored. */
export interface Admission {
  /** Tokens held on the user's daily quota, to be settled with the reply's real usage. */
  reservation: QuotaReservation | null;
  /** Frees the user's generation slot: call once the generation has ended. */
  freeSlot(): Promise<void>;
  /** Gives everything back, for a send that ends before its generation starts. */
  cancel(): Promise<void>;
}

/**
 * The limits a new message passes before it is stored (SPEC §6): one count of the user's chat rate
 * limit, a reservation on the daily token quota, and one of CHAT_MAX_CONCURRENT generation slots.
 * All three are asked at once (one round trip to Redis); when one refuses, the quota and the slot are
 * given back (the rate limit counts the attempt, as rate limits do).
 */
@Injectable()
export class SendAdmission {
  constructor(
    private readonly config: AppConfig,
    private readonly limiter: RateLimiter,
    private readonly quota: QuotaService,
    private readonly cache: CacheStore,
    private readonly outage: StoreOutagePolicy,
  ) {}

  async admit(user: AuthUser): Promise<Admission> {
    const slotKey = `charla:running:${user.id}`;
    // Each send holds a slot of its own, so no release can free another send's.
    const slotId = randomUUID();
    const [counted, reserved, slot] = await Promise.allSettled([
      this.limiter.consume('chat', user.id),
      this.quota.reserve(user.id),
      this.takeSlot(slotKey, slotId),
    ]);
    const reservation = reserved.status === 'fulfilled' ? reserved.value : null;
    const freeSlot = () => this.cache.releaseSlot(slotKey, slotId).catch(() => undefined);
    const cancel = async () => {
      await Promise.all([freeSlot(), this.quota.release(reservation)]);
    };
    const refused = [counted, reserved, slot].find((r) => r.status === 'rejected');
    if (refused || (slot.status === 'fulfilled' && !slot.value)) {
      await cancel();
      throw refused ? refused.reason : this.tooManyReplies();
    }
    return { reservation, freeSlot, cancel };
  }

  /** True when a slot was free; a store outage is the limits' common policy's call. */
  private async takeSlot(key: string, member: string): Promise<boolean> {
    const { maxConcurrent } = this.config.chat;
    try {
      return await this.cache.acquireSlot(key, member, maxConcurrent, SLOT_LEASE_MS);
    } catch (err) {
      this.outage.tolerate('generation slots', err as Error);
      return true;
    }
  }

  private tooManyReplies(): AppError {
    return new AppError(
      'rate_limited',
      `At most ${this.config.chat.maxConcurrent} replies can be generated at once; wait for one to finish`,
      undefined,
      1,
    );
  }
}
