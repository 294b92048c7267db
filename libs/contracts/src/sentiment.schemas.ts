import { z } from 'zod';
import { MAX_CONTENT_CHARS } from './chat.schemas';
import { SENTIMENT_LABELS } from './message';

/** `POST /api/chat/analyze-sentiment` (seed 003). */
export const analyzeSentimentSchema = z.strictObject({
  text: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(MAX_CONTENT_CHARS, `must be at most ${MAX_CONTENT_CHARS} characters`),
});
export type AnalyzeSentimentRequest = z.infer<typeof analyzeSentimentSchema>;

/** A text's sentiment: `score` in -1..1, `language` an ISO 639-1 code or `und` when undetermined. */
export const sentimentResultSchema = z.object({
  label: z.enum(SENTIMENT_LABELS),
  score: z.number().min(-1).max(1),
  /** ISO 639-1 code ('es', 'en'), or 'und' when undetermined. */
  language: z.string(),
});
export type SentimentResult = z.infer<typeof sentimentResultSchema>;

export const SENTIMENT_TIMELINE_LIMIT = 500;

export const sentimentPointSchema = z.object({
  messageId: z.uuid(),
  createdAt: z.iso.datetime(),
  label: z.enum(SENTIMENT_LABELS),
  score: z.number(),
});
export type SentimentPoint = z.infer<typeof sentimentPointSchema>;

export const conversationSentimentSchema = z.object({
  conversationId: z.uuid(),
  aggregate: z.object({
    count: z.number().int(),
    mean: z.number().nullable(),
    byLabel: z.object({
      positive: z.number().int(),
      neutral: z.number().int(),
      negative: z.number().int(),
    }),
  }),
  timeline: z.array(sentimentPointSchema),
});
export type ConversationSentiment = z.infer<typeof conversationSentimentSchema>;
