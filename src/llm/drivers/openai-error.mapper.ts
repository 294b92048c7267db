import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { LlmStreamError, type LlmResult } from '../llm.provider';

const UPSTREAM_ERROR_MESSAGE = 'Error communicating with the language model service';

export type TimeoutKind = 'first_token' | 'idle';

/** The reason the driver gives when it aborts its own upstream request because it went silent. */
export class UpstreamTimeout {
  constructor(
    readonly kind: TimeoutKind,
    readonly afterMs: number,
  ) {}
}

export function timeoutError(timeout: UpstreamTimeout, partial: LlmResult): LlmStreamError {
  const firstToken = timeout.kind === 'first_token';
  return new LlmStreamError(
    'upstream_timeout',
    firstToken
      ? 'The language model did not start answering in time'
      : 'The language model stopped answering mid-reply',
    {
      type: `${timeout.kind}_timeout`,
      originalMessage: firstToken
        ? `no token within ${timeout.afterMs} ms`
        : `no token for ${timeout.afterMs} ms`,
    },
    partial,
  );
}

/** The stream ended without a finish reason: the answer is cut short even though no error was raised. */
export function incompleteStreamError(partial: LlmResult): LlmStreamError {
  return new LlmStreamError(
    'upstream_error',
    UPSTREAM_ERROR_MESSAGE,
    { type: 'incomplete_stream', originalMessage: 'the stream ended before the model finished' },
    partial,
    { transient: true },
  );
}

/** Translates what the SDK, or the HTTP stack under it, threw into the port's error. */
export function upstreamError(error: unknown, partial: LlmResult): LlmStreamError {
  if (error instanceof APIConnectionTimeoutError) {
    return new LlmStreamError(
      'upstream_timeout',
      'The language model service did not answer in time',
      { type: 'connection_timeout', originalMessage: error.message },
      partial,
      { cause: error },
    );
  }
  if (error instanceof APIConnectionError || isConnectionLost(error)) {
    // The SDK's own message is generic; the cause (host, port, errno) stays out of client-visible details.
    return new LlmStreamError(
      'upstream_error',
      UPSTREAM_ERROR_MESSAGE,
      {
        type: 'connection_error',
        originalMessage: 'connection to the model service failed or was lost',
      },
      partial,
      { transient: true, cause: error },
    );
  }
  if (error instanceof APIError) return apiError(error, partial);
  return new LlmStreamError(
    'upstream_error',
    UPSTREAM_ERROR_MESSAGE,
    {
      type: 'invalid_response',
      originalMessage: error instanceof Error ? error.message : String(error),
    },
    partial,
    { cause: error },
  );
}

/** An HTTP error status, or an `error` event inside the stream (then `status` is undefined). */
function apiError(error: APIError, partial: LlmResult): LlmStreamError {
  const body = error.error as { message?: unknown } | undefined;
  return new LlmStreamError(
    'upstream_error',
    UPSTREAM_ERROR_MESSAGE,
    {
      // `code` is the most specific ('rate_limit_exceeded', 'invalid_api_key'); some servers send a number there.
      type:
        stringOrUndefined(error.code) ?? stringOrUndefined(error.type) ?? statusType(error.status),
      originalMessage: typeof body?.message === 'string' ? body.message : error.message,
    },
    partial,
    {
      transient: error.status === undefined || isTransientStatus(error.status),
      retryAfterMs: retryAfterMs(error.headers),
      cause: error,
    },
  );
}

/**
 * Node's fetch (undici) reports a connection closed mid-body as `TypeError: terminated`. Matched by
 * name, not `instanceof`: the error is built in Node's internals, which may be another realm (jest).
 */
function isConnectionLost(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  return name === 'TypeError' && message === 'terminated';
}

/** The statuses worth asking again for, as the OpenAI SDK itself treats them. */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function statusType(status: number | undefined): string {
  if (status === undefined) return 'stream_error';
  if (status === 429) return 'rate_limit_exceeded';
  return status >= 500 ? 'server_error' : `http_${status}`;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

/** `retry-after-ms` (OpenAI) is the precise one; `retry-after` may be seconds or an HTTP date. */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const millis = parseFloat(headers?.get('retry-after-ms') ?? '');
  if (millis >= 0) return millis;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
