import { AppError } from './app.error';

/** Opaque keyset cursors: base64url of the key parts, so clients cannot depend on their shape. */
export function encodeCursor(...parts: string[]): string {
  return Buffer.from(parts.join('|'), 'utf8').toString('base64url');
}

/** Decodes a cursor into `count` parts, each checked by `valid`; anything else is `bad_request`. */
export function decodeCursor(
  cursor: string,
  field: string,
  valid: ((part: string) => boolean)[],
): string[] {
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (parts.length !== valid.length || !parts.every((part, i) => valid[i](part))) {
    throw new AppError('bad_request', 'Validation failed', [
      { field, message: 'must be a cursor returned by a previous page', value: cursor },
    ]);
  }
  return parts;
}

export const isPosition = (part: string) => /^\d{1,15}$/.test(part);
export const isTimestamp = (part: string) =>
  !Number.isNaN(Date.parse(part)) && /^\d{4}-/.test(part);
export const isUuid = (part: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(part);
