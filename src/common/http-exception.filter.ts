import {
  ArgumentsHost,
  BadRequestException,
  Catch,
  ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import type { ErrorBody, ErrorCode, FieldError } from '@charla/contracts';
import type { Request, Response } from 'express';
import { RateLimitedError, rateLimitHeaders } from '../limits/rate-limited.error';
import { AppError } from './app.error';
import { requestId } from './logging';

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

/** Framework failures (404 route, 405…) in the same envelope as ours. */
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

/** What body-parser attaches to the errors it raises, before any route runs. */
interface BodyParserError {
  status?: unknown;
  message?: string;
  /** The configured limit and the declared length, in bytes (413). */
  limit?: number;
  length?: number;
}

/** A body refused as a whole: details name it the way a validation error names a field. */
const bodyError = (code: ErrorCode, error: string, detail: Omit<FieldError, 'field'>) =>
  new AppError(code, error, [{ field: 'body', ...detail }]);

/** body-parser's own refusals: a body over the limit, or one it could not read. */
function fromBodyParser(err: BodyParserError): AppError | undefined {
  if (err.status === 413) {
    return bodyError('payload_too_large', 'Request body too large', {
      message: err.limit ? `must be at most ${err.limit} bytes` : 'is too large',
      value: err.length,
    });
  }
  if (err.status === 400) {
    return bodyError('bad_request', 'Request body could not be read', {
      message: err.message ?? 'could not be read',
    });
  }
  return undefined;
}

/**
 * Nest turns body-parser's JSON SyntaxError into a bare BadRequestException, as it does a path with
 * bad percent-encoding; a JSON request whose body was never parsed tells the two apart.
 */
function isUnparsedJson(exception: unknown, request: Request): exception is BadRequestException {
  return (
    exception instanceof BadRequestException &&
    typeof request.is('json') === 'string' &&
    request.body === undefined
  );
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
      requestId: this.requestIdOf(request, response),
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
    if (isUnparsedJson(exception, request)) {
      return bodyError('bad_request', 'Request body is not valid JSON', {
        message: exception.message,
      });
    }
    if (exception instanceof HttpException) return fromHttpException(exception);
    const refused = fromBodyParser((exception ?? {}) as BodyParserError);
    if (refused) return refused;
    this.logger.error({ err: exception, requestId: request.id }, 'Unhandled error');
    return new AppError('internal', 'Internal server error');
  }

  /** A body refused before the request logger ran has no id yet: it gets one, as a header too. */
  private requestIdOf(request: Request, response: Response): string {
    if (request.id !== undefined) return String(request.id);
    const id = requestId(request);
    if (!response.headersSent) response.setHeader('X-Request-Id', id);
    return id;
  }
}
