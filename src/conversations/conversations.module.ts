import { Module } from '@nestjs/common';
import { ReplyBufferModule } from '../chat/generation/reply-buffer.module';
import { ConversationsController } from './conversations.controller';
import { ConversationsService } from './conversations.service';
import { HistoryController } from './history.controller';
import { HistoryService } from './history.service';
import { MessagesRepository } from './messages.repository';

@Module({
  imports: [ReplyBufferModule],
  controllers: [ConversationsController, HistoryController],
  providers: [ConversationsService, MessagesRepository, HistoryService],
  exports: [ConversationsService, MessagesRepository],
})
export class ConversationsModule {}
