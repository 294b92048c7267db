import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  analyzeSentimentSchema,
  uuidParamSchema,
  type AnalyzeSentimentRequest,
  type ConversationSentiment,
  type SentimentResult,
} from '@charla/contracts';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { ConversationSentimentService } from './conversation-sentiment.service';
import { SentimentService } from './sentiment.service';

@Controller('api')
export class SentimentController {
  constructor(
    private readonly sentiment: SentimentService,
    private readonly conversationSentiment: ConversationSentimentService,
  ) {}

  /** Seed 003: the sentiment of any text, nothing stored. */
  @Post('chat/analyze-sentiment')
  @HttpCode(200)
  analyze(
    @Body(new ZodValidationPipe(analyzeSentimentSchema)) body: AnalyzeSentimentRequest,
  ): SentimentResult {
    return this.sentiment.analyze(body.text);
  }

  /** Owner or admin; another user's conversation answers like a missing one. */
  @Get('conversations/:id/sentiment')
  conversation(
    @CurrentUser() user: AuthUser,
    @Param('id', new ZodValidationPipe(uuidParamSchema)) id: string,
  ): Promise<ConversationSentiment> {
    return this.conversationSentiment.forConversation(user, id);
  }
}
