import { Controller, Get, Param } from '@nestjs/common';
import { userIdParamSchema, uuidParamSchema, type ConversationSummary } from '@charla/contracts';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { UserRateLimit } from '../limits/user-rate-limit.guard';
import { SummaryService } from './summary.service';

/** Summaries are history reads (and may cost a model call): they count against the history limit. */
@Controller('api')
export class SummaryController {
  constructor(private readonly summaries: SummaryService) {}

  /** Owner or admin; another user's conversation answers like a missing one. */
  @Get('conversations/:id/summary')
  @UserRateLimit('history')
  conversation(
    @CurrentUser() user: AuthUser,
    @Param('id', new ZodValidationPipe(uuidParamSchema)) id: string,
  ): Promise<ConversationSummary> {
    return this.summaries.forConversation(user, id);
  }

  /** Seed 003: the summary of the user's latest conversation; another user's only for admins (403). */
  @Get('chat/summary/:userId')
  @UserRateLimit('history')
  latest(
    @CurrentUser() user: AuthUser,
    @Param('userId', new ZodValidationPipe(userIdParamSchema)) userId: string,
  ): Promise<ConversationSummary> {
    return this.summaries.forLatestOf(user, userId);
  }
}
