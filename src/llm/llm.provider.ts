import { AppError } from '../common/app.error';

/** A turn of the prompt sent upstream. Roles are always assigned by the server. */
export interface PromptMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface LlmRequest {
  messages: PromptMessage[];
  /** Cap on completion tokens; defaults to LLM_MAX_OUTPUT_TOKENS. */
  maxOutputTokens?: number;
  /** Aborting closes the upstream HTTP request; the stream then ends with finishReason 'aborted'. */
  signal?: AbortSignal;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** True when counted locally with the tokenizer because the provider did not report usage. */
  estimated: boolean;
}

export interface LlmResult {
  /** The whole completion text: exactly the concatenation of the yielded deltas. */
  text: string;
  model: string;
  /**
   * Provider finish reason ('stop', 'length', …), 'aborted' when the signal fired or the consumer
   * stopped iterating, 'error' in the `partial` of an `LlmStreamError`.
   */
  finishReason: string;
  usage: TokenUsage;
}

/**
 * One streaming completion: iterate it (once) for text deltas as they arrive; `result` settles when
 * the iteration ends, so a caller that only wants the whole answer still iterates to the end.
 *
 * How a generation can end, and what it reports as consumed:
 * - completed: iteration ends, `result` has the provider's finish reason and usage (the provider's
 *   when it streamed usage, else estimated);
 * - aborted (the request's signal fired, or the consumer left the loop early): the upstream request
 *   is closed, iteration ends normally and `result` has finishReason 'aborted' and estimated usage of
 *   the partial text;
 * - failed: iteration throws an `LlmStreamError` and `result` rejects with the same error; its
 *   `partial` holds the text yielded before the failure and its estimated usage.
 */
export interface LlmStream extends AsyncIterable<string> {
  readonly result: Promise<LlmResult>;
}

export type CircuitStatus = 'closed' | 'open' | 'half-open';

/** What the health endpoint shows about the LLM, computed without calling the network. */
export interface LlmStatus {
  provider: 'openai' | 'offline';
  /** In failover order. A circuit reads 'open' until the first call after its half-open delay probes it. */
  endpoints: { name: string; model: string; circuit: CircuitStatus }[];
}

/** The port every model call goes through (chat, summaries). Chosen once from config. */
export abstract class LlmProvider {
  abstract readonly name: LlmStatus['provider'];
  abstract stream(request: LlmRequest): LlmStream;
  abstract status(): LlmStatus;
}

/** Shape of `details` on every upstream_* error (seed 001): the provider's error type and message. */
export interface UpstreamErrorDetails {
  type: string;
  originalMessage: string;
}

export type UpstreamErrorCode = 'upstream_error' | 'upstream_timeout' | 'upstream_unavailable';

/**
 * How an `LlmStream` fails. Before the first delta was yielded, the provider has already retried and
 * failed over; once a delta was yielded, nothing is retried (a half-streamed answer is never replayed).
 */
export class LlmStreamError extends AppError {
  declare readonly code: UpstreamErrorCode;
  declare readonly details: UpstreamErrorDetails;
  /** Whether asking the same endpoint again soon may succeed (rate limit, 5xx, dropped connection). */
  readonly transient: boolean;
  /** How long the upstream asked us to wait (429 `retry-after`), in milliseconds. */
  readonly retryAfterMs?: number;

  constructor(
    code: UpstreamErrorCode,
    message: string,
    details: UpstreamErrorDetails,
    /** What was produced and consumed before the failure. */
    readonly partial: LlmResult,
    options: { transient?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(code, message, details, toSeconds(options.retryAfterMs));
    this.name = 'LlmStreamError';
    this.transient = options.transient ?? false;
    this.retryAfterMs = options.retryAfterMs;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

function toSeconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}
