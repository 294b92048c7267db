import { Module } from '@nestjs/common';
import { ConversationsController } from './conversations.controller';
import { ConversationsService } from './conversations.service';
import { MessagesRepository } from './messages.repository';

@Module({
  controllers: [ConversationsController],
  providers: [ConversationsService, MessagesRepository],
  exports: [ConversationsService, MessagesRepository],
})
export class ConversationsModule {}
