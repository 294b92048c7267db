import { Module } from '@nestjs/common';
import { ChatHubModule } from '../chat/chat-hub.module';
import { ConversationsModule } from '../conversations/conversations.module';
import { ConversationSentimentService } from './conversation-sentiment.service';
import { SentimentController } from './sentiment.controller';
import { SentimentScorer } from './sentiment.scorer';
import { SentimentService } from './sentiment.service';

/** Message sentiment: the analyzer, the background scorer the chat path feeds, and the dashboards' endpoints. */
@Module({
  imports: [ChatHubModule, ConversationsModule],
  controllers: [SentimentController],
  providers: [SentimentService, SentimentScorer, ConversationSentimentService],
  exports: [SentimentScorer, SentimentService],
})
export class SentimentModule {}
