import { Module } from '@nestjs/common';
import { ChatModule } from '../chat/chat.module';
import { ReplyBufferModule } from '../chat/generation/reply-buffer.module';
import { SummaryModule } from '../summary/summary.module';
import { HistoryController } from './history.controller';
import { HistoryService } from './history.service';

/**
 * A user's whole history (seed 003): read across conversations, or erased everywhere. Apart from
 * ConversationsModule because an erase reaches into chat (running replies) and summaries.
 */
@Module({
  imports: [ChatModule, ReplyBufferModule, SummaryModule],
  controllers: [HistoryController],
  providers: [HistoryService],
})
export class HistoryModule {}
