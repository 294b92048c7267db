import { z } from 'zod';

export const MAX_CONTENT_CHARS = 4000;
export const MAX_CONTEXT_BYTES = 8 * 1024;

/** Optional per-message user context: a JSON object of at most 8 KB, quoted into the prompt as data. */
export const contextSchema = z
  .record(z.string(), z.unknown())
  .refine((v) => Buffer.byteLength(JSON.stringify(v), 'utf8') <= MAX_CONTEXT_BYTES, {
    message: `must be at most ${MAX_CONTEXT_BYTES} bytes of JSON`,
  });

const content = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_CONTENT_CHARS, `must be at most ${MAX_CONTENT_CHARS} characters`);

export const sendMessageSchema = z.strictObject({
  conversationId: z.uuid().optional(),
  clientMessageId: z.string().min(1).max(100),
  content,
  context: contextSchema.optional(),
});
export type SendMessageRequest = z.infer<typeof sendMessageSchema>;

export const abortSchema = z.strictObject({ replyId: z.uuid() });
export type AbortRequest = z.infer<typeof abortSchema>;

export const resumeSchema = z.strictObject({
  replyId: z.uuid(),
  afterSeq: z.number().int().min(0),
});
export type ResumeRequest = z.infer<typeof resumeSchema>;

export const conversationRefSchema = z.strictObject({ conversationId: z.uuid() });
export type ConversationRef = z.infer<typeof conversationRefSchema>;

export const typingSchema = z.strictObject({ conversationId: z.uuid(), isTyping: z.boolean() });
export type TypingRequest = z.infer<typeof typingSchema>;

export const refreshTokenSchema = z.strictObject({ token: z.string().min(1).max(8192) });
export type RefreshTokenRequest = z.infer<typeof refreshTokenSchema>;

/** Seed 001's history array, accepted for compatibility and quoted into the prompt as data, never as roles. */
const historyContextSchema = z
  .array(
    z.strictObject({
      role: z.enum(['user', 'assistant', 'system']),
      content: z.string().max(MAX_CONTENT_CHARS),
    }),
  )
  .max(50)
  .refine((v) => Buffer.byteLength(JSON.stringify(v), 'utf8') <= MAX_CONTEXT_BYTES, {
    message: `must be at most ${MAX_CONTEXT_BYTES} bytes of JSON`,
  });

/** `POST /api/chat` (seed 001 request). */
export const restChatSchema = z.strictObject({
  message: content,
  context: z.union([contextSchema, historyContextSchema]).optional(),
  sessionId: z.string().min(1).max(100).optional(),
  userId: z.string().min(1).max(200).optional(),
});
export type RestChatRequest = z.infer<typeof restChatSchema>;

/** `POST /api/chat` response (seed 001 shape, plus the ids Charla stored). */
export const restChatResponseSchema = z.object({
  reply: z.string(),
  usage: z.object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
  }),
  metadata: z.object({
    model: z.string().nullable(),
    finishReason: z.string().nullable(),
    timestamp: z.iso.datetime(),
    conversationId: z.uuid(),
    messageId: z.uuid(),
    replyId: z.uuid(),
    status: z.string(),
    estimatedUsage: z.boolean(),
  }),
});
export type RestChatResponse = z.infer<typeof restChatResponseSchema>;
