import { AppError } from './app.error';
import { decodeCursor, encodeCursor, isPosition, isUuid } from './cursor';

describe('keyset cursors', () => {
  it('round-trips its parts', () => {
    const cursor = encodeCursor('42', '0b7c1f3e-8f0a-4b7e-9c1d-2e3f4a5b6c7d');
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, 'cursor', [isPosition, isUuid])).toEqual([
      '42',
      '0b7c1f3e-8f0a-4b7e-9c1d-2e3f4a5b6c7d',
    ]);
  });

  it.each(['', 'garbage', encodeCursor('1; DROP TABLE messages'), encodeCursor('1', '2')])(
    'refuses %p as bad_request naming the field',
    (cursor) => {
      const attempt = () => decodeCursor(cursor, 'before', [isPosition]);
      expect(attempt).toThrow(AppError);
      expect(attempt).toThrow(
        expect.objectContaining({
          code: 'bad_request',
          details: [expect.objectContaining({ field: 'before' })],
        }),
      );
    },
  );
});
