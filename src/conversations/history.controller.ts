import { Controller, Delete, Get, HttpCode, Param, Query } from '@nestjs/common';
import {
  userHistoryQuerySchema,
  userIdParamSchema,
  uuidParamSchema,
  type MessageDto,
  type Page,
  type UserHistoryQuery,
} from '@charla/contracts';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { UserRateLimit } from '../limits/user-rate-limit.guard';
import { HistoryService } from './history.service';

const userId = new ZodValidationPipe(userIdParamSchema);
const conversationId = new ZodValidationPipe(uuidParamSchema);

/**
 * Seed 003's per-user history: the caller's own, or anyone's for an admin (dashboards); and the
 * deletes, which reach past PostgreSQL (running replies, memory, summaries, resume buffers).
 */
@Controller('api')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get('chat/history/:userId')
  @UserRateLimit('history')
  list(
    @CurrentUser() user: AuthUser,
    @Param('userId', userId) id: string,
    @Query(new ZodValidationPipe(userHistoryQuerySchema)) query: UserHistoryQuery,
  ): Promise<Page<MessageDto>> {
    return this.history.list(user, id, query);
  }

  @Delete('chat/history/:userId')
  @HttpCode(204)
  erase(@CurrentUser() user: AuthUser, @Param('userId', userId) id: string): Promise<void> {
    return this.history.erase(user, id);
  }

  @Delete('conversations/:id')
  @HttpCode(204)
  eraseConversation(
    @CurrentUser() user: AuthUser,
    @Param('id', conversationId) id: string,
  ): Promise<void> {
    return this.history.eraseConversation(user, id);
  }
}
