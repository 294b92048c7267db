import { z } from 'zod';

/** Stable error codes shared by every transport (SPEC §6). Clients switch on these, never on messages. */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'quota_exceeded',
  'payload_too_large',
  'upstream_error',
  'upstream_timeout',
  'upstream_unavailable',
  'service_unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** A field-level validation problem, as listed in `details` of a `bad_request`. */
export const fieldErrorSchema = z.object({
  field: z.string(),
  message: z.string(),
  value: z.unknown().optional(),
});
export type FieldError = z.infer<typeof fieldErrorSchema>;

/** The REST error envelope (SPEC §5). */
export const errorBodySchema = z.object({
  error: z.string(),
  code: z.enum(ERROR_CODES),
  details: z.unknown().optional(),
  retryAfter: z.number().int().optional(),
  requestId: z.string(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;
