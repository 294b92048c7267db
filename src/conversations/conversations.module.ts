import { Module } from '@nestjs/common';
import { ReplyBufferModule } from '../chat/generation/reply-buffer.module';
import { ConversationsController } from './conversations.controller';
import { ConversationsService } from './conversations.service';
import { MessagesRepository } from './messages.repository';

@Module({
  imports: [ReplyBufferModule],
  controllers: [ConversationsController],
  providers: [ConversationsService, MessagesRepository],
  exports: [ConversationsService, MessagesRepository],
})
export class ConversationsModule {}
