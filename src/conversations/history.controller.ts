import { Controller, Delete, Get, HttpCode, Param, Query } from '@nestjs/common';
import {
  userHistoryQuerySchema,
  userIdParamSchema,
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

/** Seed 003's per-user history: the caller's own, or anyone's for an admin (dashboards). */
@Controller('api/chat/history')
export class HistoryController {
  constructor(private readonly history: HistoryService) {}

  @Get(':userId')
  @UserRateLimit('history')
  list(
    @CurrentUser() user: AuthUser,
    @Param('userId', userId) id: string,
    @Query(new ZodValidationPipe(userHistoryQuerySchema)) query: UserHistoryQuery,
  ): Promise<Page<MessageDto>> {
    return this.history.list(user, id, query);
  }

  @Delete(':userId')
  @HttpCode(204)
  erase(@CurrentUser() user: AuthUser, @Param('userId', userId) id: string): Promise<void> {
    return this.history.erase(user, id);
  }
}
