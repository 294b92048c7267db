import { z } from 'zod';

export const PERSONAS = ['default', 'finance-ar'] as const;

export const createConversationSchema = z.strictObject({
  title: z.string().trim().min(1).max(200).optional(),
  persona: z.enum(PERSONAS).optional(),
});
export type CreateConversationRequest = z.infer<typeof createConversationSchema>;

export const updateConversationSchema = z
  .strictObject({
    title: z.string().trim().min(1).max(200).nullable().optional(),
    persona: z.enum(PERSONAS).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'at least one of title, persona is required');
export type UpdateConversationRequest = z.infer<typeof updateConversationSchema>;

const limit = (fallback: number) => z.coerce.number().int().min(1).max(100).default(fallback);
/** Opaque keyset cursors: base64url, bounded so garbage is refused before it reaches SQL. */
const cursor = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be a cursor returned by a previous page');

export const listConversationsQuerySchema = z.strictObject({
  limit: limit(20),
  cursor: cursor.optional(),
  /** Admins only: list another user's conversations. */
  userId: z.string().min(1).max(200).optional(),
});
export type ListConversationsQuery = z.infer<typeof listConversationsQuerySchema>;

export const listMessagesQuerySchema = z.strictObject({
  limit: limit(50),
  before: cursor.optional(),
});
export type ListMessagesQuery = z.infer<typeof listMessagesQuerySchema>;

export const uuidParamSchema = z.uuid({ message: 'must be a UUID' });
