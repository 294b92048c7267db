import { BeforeApplicationShutdown, Inject, Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { AppConfig } from '../config/app.config';
import { ConversationsModule } from '../conversations/conversations.module';
import { LlmModule } from '../llm/llm.module';
import { PromptModule } from '../prompt/prompt.module';
import { SentimentModule } from '../sentiment/sentiment.module';
import { ChatController } from './chat.controller';
import { ChatGateway } from './chat.gateway';
import { ChatHubModule } from './chat-hub.module';
import { ChatRequests } from './chat.requests';
import { SendAdmission } from './send-admission';
import { SocketAdmission } from './socket-admission';
import { ChatService } from './chat.service';
import { GenerationRegistry } from './generation/generation.registry';
import { GenerationRunner } from './generation/generation.runner';
import { OrphanRepliesSweeper } from './generation/orphan-replies.sweeper';
import { ReplyBufferModule } from './generation/reply-buffer.module';
import { WsGateway } from './ws.gateway';

@Module({
  imports: [
    AuthModule,
    ChatHubModule,
    ConversationsModule,
    LlmModule,
    PromptModule,
    ReplyBufferModule,
    SentimentModule,
  ],
  controllers: [ChatController],
  providers: [
    GenerationRegistry,
    GenerationRunner,
    OrphanRepliesSweeper,
    ChatService,
    ChatRequests,
    SendAdmission,
    SocketAdmission,
    ChatGateway,
    WsGateway,
  ],
  exports: [ChatService, GenerationRegistry],
})
export class ChatModule implements BeforeApplicationShutdown {
  constructor(
    @Inject(GenerationRegistry) private readonly registry: GenerationRegistry,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  /** Lets running replies finish, then stops the rest so what they streamed is stored as `interrupted`. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.registry.drain(this.config.http.shutdownGraceMs);
    await this.registry.stopAll('shutdown');
  }
}
