import { z } from 'zod';

export const MESSAGE_ROLES = ['user', 'assistant', 'system'] as const;
export type MessageRole = (typeof MESSAGE_ROLES)[number];

export const MESSAGE_STATUSES = [
  'complete',
  'streaming',
  'aborted',
  'failed',
  'interrupted',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const SENTIMENT_LABELS = ['positive', 'neutral', 'negative'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

const isoDate = z.iso.datetime();

export const usageSchema = z.object({
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  totalTokens: z.number().int(),
  /** True when counted with a tokenizer because the provider did not report usage. */
  estimated: z.boolean(),
});
export type Usage = z.infer<typeof usageSchema>;

export const sentimentSchema = z.object({
  label: z.enum(SENTIMENT_LABELS),
  score: z.number().min(-1).max(1),
});

/** A stored message as every transport returns it (SPEC §4). */
export const messageDtoSchema = z.object({
  id: z.uuid(),
  conversationId: z.uuid(),
  role: z.enum(MESSAGE_ROLES),
  content: z.string(),
  status: z.enum(MESSAGE_STATUSES),
  clientMessageId: z.string().optional(),
  model: z.string().optional(),
  finishReason: z.string().optional(),
  usage: usageSchema.optional(),
  sentiment: sentimentSchema.optional(),
  createdAt: isoDate,
});
export type MessageDto = z.infer<typeof messageDtoSchema>;

export const conversationDtoSchema = z.object({
  id: z.uuid(),
  userId: z.string(),
  title: z.string().nullable(),
  persona: z.string(),
  createdAt: isoDate,
  updatedAt: isoDate,
});
export type ConversationDto = z.infer<typeof conversationDtoSchema>;

/** A keyset page: `nextCursor` is null on the last page. */
export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), nextCursor: z.string().nullable() });
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
