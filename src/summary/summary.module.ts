import { Module } from '@nestjs/common';
import { ConversationsModule } from '../conversations/conversations.module';
import { SummarizerModule } from './summarizer.module';
import { SummaryController } from './summary.controller';
import { SummaryService } from './summary.service';

/** `GET /api/conversations/:id/summary` and `GET /api/chat/summary/:userId`. */
@Module({
  imports: [ConversationsModule, SummarizerModule],
  controllers: [SummaryController],
  providers: [SummaryService],
  exports: [SummaryService],
})
export class SummaryModule {}
