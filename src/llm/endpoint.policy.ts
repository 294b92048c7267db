import {
  CircuitState,
  ConsecutiveBreaker,
  DelegateBackoff,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  retry,
  wrap,
  type CircuitBreakerPolicy,
  type IBackoff,
  type IBackoffFactory,
  type IPolicy,
  type IRetryBackoffContext,
} from 'cockatiel';
import type { AppConfig } from '../config/app.config';
import { LlmStreamError, type CircuitStatus } from './llm.provider';

export type EndpointPolicySettings = Pick<
  AppConfig['llm'],
  'maxRetries' | 'retryBaseDelayMs' | 'breakerThreshold' | 'breakerHalfOpenMs'
>;

/**
 * The longest we wait before asking the same endpoint again, whether from our backoff or from a 429's
 * `retry-after`. A user is watching the typing indicator: past this, the next endpoint (or an error
 * carrying `retryAfter`) serves them better.
 */
export const MAX_RETRY_DELAY_MS = 5_000;

/**
 * Retries with exponential backoff and jitter, inside a circuit breaker, for one endpoint. It guards
 * only the opening of a stream (up to its first token): what happens after that is never retried.
 */
export class EndpointPolicy {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy;

  constructor(settings: EndpointPolicySettings) {
    this.breaker = circuitBreaker(handleWhen(isEndpointFailure), {
      halfOpenAfter: settings.breakerHalfOpenMs,
      breaker: new ConsecutiveBreaker(settings.breakerThreshold),
    });
    const retries = retry(handleWhen(isWorthRetrying), {
      maxAttempts: settings.maxRetries,
      backoff: backoffHonouringRetryAfter(settings.retryBaseDelayMs),
    });
    // Retry outside the breaker: every attempt counts towards opening it, and once it is open the
    // remaining retries stop at once (BrokenCircuitError is not worth retrying).
    this.policy = wrap(retries, this.breaker);
  }

  get circuit(): CircuitStatus {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      default:
        return 'open';
    }
  }

  /** Runs `attempt` with retries; throws BrokenCircuitError without running it while the circuit is open. */
  execute<T>(attempt: () => Promise<T>): Promise<T> {
    return this.policy.execute(attempt);
  }
}

/** Failures that say the endpoint is unwell (overloaded, down, unreachable, silent), not the request. */
function isEndpointFailure(error: Error): boolean {
  return error instanceof LlmStreamError && (error.transient || error.code === 'upstream_timeout');
}

/**
 * Transient failures are retried unless the server asks for a long wait. Timeouts are not: the user
 * has already waited a full timeout, so the next endpoint gets the next try.
 */
function isWorthRetrying(error: Error): boolean {
  return (
    error instanceof LlmStreamError &&
    error.transient &&
    (error.retryAfterMs ?? 0) <= MAX_RETRY_DELAY_MS
  );
}

function backoffHonouringRetryAfter(
  baseDelayMs: number,
): IBackoffFactory<IRetryBackoffContext<unknown>> {
  const exponential = new ExponentialBackoff({
    initialDelay: baseDelayMs,
    maxDelay: MAX_RETRY_DELAY_MS,
  });
  return new DelegateBackoff<IRetryBackoffContext<unknown>, IBackoff<unknown>>(
    (context, previous) => {
      const backoff = previous ? previous.next(context) : exponential.next();
      return { delay: Math.max(backoff.duration, retryAfterOf(context.result)), state: backoff };
    },
  );
}

function retryAfterOf(result: IRetryBackoffContext<unknown>['result']): number {
  return 'error' in result && result.error instanceof LlmStreamError
    ? (result.error.retryAfterMs ?? 0)
    : 0;
}
