import { z } from 'zod';
import { listMessagesQuerySchema } from './conversation.schemas';

/** `GET /api/chat/history/:userId`: the same keyset paging as a conversation's messages. */
export const userHistoryQuerySchema = listMessagesQuerySchema;
export type UserHistoryQuery = z.infer<typeof userHistoryQuerySchema>;

/** A user id as JWTs carry it in `sub` (stored as varchar(200)). */
export const userIdParamSchema = z.string().min(1).max(200);
