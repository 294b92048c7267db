import type { ConversationDto, MessageDto, SentimentLabel } from '@charla/contracts';
import type { ConversationEntity } from './conversation.entity';
import type { MessageEntity } from './message.entity';

export function toMessageDto(m: MessageEntity): MessageDto {
  const dto: MessageDto = {
    id: m.id,
    conversationId: m.conversationId,
    role: m.role,
    content: m.content,
    status: m.status,
    createdAt: m.createdAt.toISOString(),
  };
  if (m.clientMessageId) dto.clientMessageId = m.clientMessageId;
  if (m.model) dto.model = m.model;
  if (m.finishReason) dto.finishReason = m.finishReason;
  if (m.promptTokens !== null && m.completionTokens !== null) {
    dto.usage = {
      promptTokens: m.promptTokens,
      completionTokens: m.completionTokens,
      totalTokens: m.promptTokens + m.completionTokens,
      estimated: m.usageEstimated ?? false,
    };
  }
  if (m.sentimentLabel && m.sentimentScore !== null) {
    dto.sentiment = { label: m.sentimentLabel as SentimentLabel, score: m.sentimentScore };
  }
  return dto;
}

export function toConversationDto(c: ConversationEntity): ConversationDto {
  return {
    id: c.id,
    userId: c.userId,
    title: c.title,
    persona: c.persona,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}
