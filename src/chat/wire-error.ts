import type { WireError } from '@charla/contracts';
import { Logger } from '@nestjs/common';
import { AppError } from '../common/app.error';

const logger = new Logger('ChatErrors');

/** The error object of an ack or a chat:error: stable code, no internals. */
export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) {
    const wire: WireError = { code: err.code, message: err.message };
    if (err.details !== undefined) wire.details = err.details;
    if (err.retryAfter !== undefined) wire.retryAfter = err.retryAfter;
    return wire;
  }
  logger.error({ err }, 'Unhandled chat error');
  return { code: 'internal', message: 'Internal server error' };
}
