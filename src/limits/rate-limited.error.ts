import { AppError } from '../common/app.error';

/** Where a client stands against one limit (IETF RateLimit header fields). */
export interface LimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/** `rate_limited`, carrying the state the HTTP filter turns into RateLimit-* headers. */
export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly state: LimitState,
  ) {
    super('rate_limited', message, undefined, Math.max(1, state.resetSeconds));
  }
}

/** `RateLimit-Limit`, `-Remaining`, `-Reset` (seconds), on successes and on 429s alike. */
export function rateLimitHeaders(state: LimitState): Record<string, string> {
  return {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(state.remaining),
    'RateLimit-Reset': String(state.resetSeconds),
  };
}
