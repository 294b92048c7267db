import { PipeTransform } from '@nestjs/common';
import type { FieldError } from '@charla/contracts';
import type { z } from 'zod';
import { AppError } from './app.error';

/** Where each issue points, with the offending value so a developer sees what was sent. */
export function fieldErrors(error: z.ZodError, input: unknown): FieldError[] {
  return error.issues.map((issue) => {
    const path =
      issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys.join(',')] : issue.path;
    return {
      field: path.join('.') || '(root)',
      message: issue.message,
      value: valueAt(input, issue.path),
    };
  });
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  // Long values would bloat the error; the field and message are what matter.
  return typeof value === 'string' && value.length > 200 ? `${value.slice(0, 200)}…` : value;
}

/** Parses a payload with its schema; failures become `bad_request` with field details. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success)
    throw new AppError('bad_request', 'Validation failed', fieldErrors(result.error, input));
  return result.data;
}

/** `@Body(new ZodValidationPipe(schema))`: the same schemas validate REST and socket payloads. */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    return parseOrThrow(this.schema, value);
  }
}
