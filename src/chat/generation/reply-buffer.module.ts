import { Module } from '@nestjs/common';
import type Redis from 'ioredis';
import { AppConfig } from '../../config/app.config';
import { REDIS } from '../../memory/memory.module';
import { InMemoryReplyBuffer } from './in-memory.reply-buffer';
import { RedisReplyBuffer } from './redis.reply-buffer';
import { ReplyBuffer } from './reply-buffer';

/** The resume buffers alone: chat writes them, conversation and history erasure delete them. */
@Module({
  providers: [
    {
      provide: ReplyBuffer,
      inject: [AppConfig, REDIS],
      useFactory: (config: AppConfig, redis: Redis | null) =>
        redis
          ? new RedisReplyBuffer(redis, config.chat.resumeTtlMs)
          : new InMemoryReplyBuffer(config.chat.resumeTtlMs),
    },
  ],
  exports: [ReplyBuffer],
})
export class ReplyBufferModule {}
