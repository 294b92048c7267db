import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { ErrorBody, ErrorCode } from '@charla/contracts';
import type { Request, Response } from 'express';
import { RateLimitedError, rateLimitHeaders } from '../limits/rate-limited.error';
import { AppError } from './app.error';

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'bad_request',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'bad_request',
  429: 'rate_limited',
  502: 'upstream_error',
  503: 'service_unavailable',
  504: 'upstream_timeout',
};

/** Framework and body-parser failures (404 route, bad JSON, 413) in the same envelope as ours. */
function fromHttpException(err: HttpException): AppError {
  const status = err.getStatus();
  const code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal' : 'bad_request');
  const message =
    status === 413
      ? 'Request body too large'
      : status >= 500
        ? 'Internal server error'
        : err.message;
  return new AppError(code, message);
}

/**
 * The one place a REST failure becomes a response: `{ error, code, details?, retryAfter?, requestId }`.
 * Unknown errors are logged with their stack and answered as `internal`, with nothing internal leaked.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const error = this.toAppError(exception, request);
    const body: ErrorBody = {
      error: error.message,
      code: error.code,
      requestId: String(request.id ?? ''),
    };
    if (error.details !== undefined) body.details = error.details;
    if (error instanceof RateLimitedError) response.set(rateLimitHeaders(error.state));
    if (error.retryAfter !== undefined) {
      body.retryAfter = error.retryAfter;
      response.setHeader('Retry-After', String(error.retryAfter));
    }
    if (!response.headersSent) response.status(error.httpStatus).json(body);
  }

  private toAppError(exception: unknown, request: Request): AppError {
    if (exception instanceof AppError) return exception;
    if (exception instanceof HttpException) return fromHttpException(exception);
    const status = (exception as { status?: unknown })?.status;
    if (status === 413) return new AppError('payload_too_large', 'Request body too large');
    if (status === 400) return new AppError('bad_request', 'Request body is not valid JSON');
    this.logger.error({ err: exception, requestId: request.id }, 'Unhandled error');
    return new AppError('internal', 'Internal server error');
  }
}
