import type { ErrorCode } from '@charla/contracts';

const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  quota_exceeded: 429,
  internal: 500,
  upstream_error: 502,
  service_unavailable: 503,
  upstream_unavailable: 503,
  upstream_timeout: 504,
};

/**
 * A failure the client may see: a stable code, a human message and optional details.
 * Every transport maps it the same way (HTTP filter, socket ack, WebSocket error frame).
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  static notFound(what: string): AppError {
    return new AppError('not_found', `${what} not found`);
  }
}
