import { Injectable, Logger } from '@nestjs/common';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';

/** Seconds a client is told to wait when a limit cannot be checked. */
const RETRY_AFTER_S = 5;

/**
 * What a limit does when the cache store (Redis) cannot answer, the same for rate limits, quotas and
 * generation slots: RATE_LIMIT_FAIL_OPEN=true lets the request through, so an outage of the cache does
 * not take chat down; false refuses it with `service_unavailable`. Logged either way.
 */
@Injectable()
export class StoreOutagePolicy {
  private readonly logger = new Logger(StoreOutagePolicy.name);

  constructor(private readonly config: AppConfig) {}

  /** Returns when failing open (the caller goes on unlimited); throws `service_unavailable` when closed. */
  tolerate(what: string, err: Error): void {
    this.logger.error(`Limit store unreachable (${what}): ${err.message}`);
    if (!this.config.limits.failOpen) {
      throw new AppError(
        'service_unavailable',
        'Limits cannot be checked right now; try again shortly',
        undefined,
        RETRY_AFTER_S,
      );
    }
  }
}
