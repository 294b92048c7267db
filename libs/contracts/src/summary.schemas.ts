import { z } from 'zod';

export const SUMMARY_METHODS = ['llm', 'extractive'] as const;
export type SummaryMethod = (typeof SUMMARY_METHODS)[number];

/**
 * `GET /api/conversations/:id/summary` and `GET /api/chat/summary/:userId`: a summary of the whole
 * conversation up to `upToMessageId` (null while it has no message), covering `messageCount`
 * messages. Written by the LLM in the conversation's language, or `extractive` (sentences picked
 * from the conversation) when the LLM is offline or failed.
 */
export const conversationSummarySchema = z.object({
  conversationId: z.uuid(),
  summary: z.string(),
  method: z.enum(SUMMARY_METHODS),
  upToMessageId: z.uuid().nullable(),
  messageCount: z.number().int(),
  generatedAt: z.iso.datetime(),
});
export type ConversationSummary = z.infer<typeof conversationSummarySchema>;
