import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import {
  createConversationSchema,
  listConversationsQuerySchema,
  listMessagesQuerySchema,
  updateConversationSchema,
  uuidParamSchema,
  type ConversationDto,
  type CreateConversationRequest,
  type ListConversationsQuery,
  type ListMessagesQuery,
  type MessageDto,
  type Page,
  type UpdateConversationRequest,
} from '@charla/contracts';
import type { AuthUser } from '../auth/auth-user';
import { CurrentUser } from '../auth/current-user.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { UserRateLimit } from '../limits/user-rate-limit.guard';
import { ConversationsService } from './conversations.service';
import { toConversationDto } from './message.mapper';

const conversationId = new ZodValidationPipe(uuidParamSchema);

@Controller('api/conversations')
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  @Post()
  async create(
    @CurrentUser() user: AuthUser,
    @Body(new ZodValidationPipe(createConversationSchema)) body: CreateConversationRequest,
  ): Promise<ConversationDto> {
    return toConversationDto(await this.conversations.create(user, body));
  }

  @Get()
  list(
    @CurrentUser() user: AuthUser,
    @Query(new ZodValidationPipe(listConversationsQuerySchema)) query: ListConversationsQuery,
  ): Promise<Page<ConversationDto>> {
    return this.conversations.list(user, query);
  }

  @Get(':id')
  async get(
    @CurrentUser() user: AuthUser,
    @Param('id', conversationId) id: string,
  ): Promise<ConversationDto> {
    return toConversationDto(await this.conversations.get(user, id));
  }

  @Patch(':id')
  async update(
    @CurrentUser() user: AuthUser,
    @Param('id', conversationId) id: string,
    @Body(new ZodValidationPipe(updateConversationSchema)) body: UpdateConversationRequest,
  ): Promise<ConversationDto> {
    return toConversationDto(await this.conversations.update(user, id, body));
  }

  @Get(':id/messages')
  @UserRateLimit('history')
  messages(
    @CurrentUser() user: AuthUser,
    @Param('id', conversationId) id: string,
    @Query(new ZodValidationPipe(listMessagesQuerySchema)) query: ListMessagesQuery,
  ): Promise<Page<MessageDto>> {
    return this.conversations.listMessages(user, id, query);
  }
}
