import { PipeTransform } from '@nestjs/common';
import { AppError } from '../common/app.error';

/** Refuses a body whose JSON is larger than `maxBytes` (measured compactly) with 413. */
export class JsonSizePipe implements PipeTransform<unknown, unknown> {
  constructor(private readonly maxBytes: number) {}

  transform(value: unknown): unknown {
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
    if (bytes > this.maxBytes) {
      throw new AppError(
        'payload_too_large',
        `The profile must be at most ${this.maxBytes} bytes of JSON; this one is ${bytes}`,
        [
          {
            field: 'body',
            message: `must be at most ${this.maxBytes} bytes of JSON`,
            value: bytes,
          },
        ],
      );
    }
    return value;
  }
}
