import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app.config';
import { CacheStore } from './cache.store';
import { ConversationMemory } from './conversation-memory';
import { InMemoryConversationMemory } from './in-memory.conversation-memory';
import { InMemoryCacheStore } from './in-memory.cache.store';
import { InMemoryPubSub } from './in-memory.pub-sub';
import { PubSub } from './pub-sub';
import { RedisCacheStore } from './redis.cache.store';
import { RedisConversationMemory } from './redis.conversation-memory';
import { closeRedis, connectRedis } from './redis.connection';
import { RedisPubSub } from './redis.pub-sub';

/** The shared Redis connection, or null when REDIS_URL is unset (in-process implementations). */
export const REDIS = Symbol('REDIS');

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.redis) await closeRedis(this.redis);
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        config.redis.kind === 'redis' ? connectRedis(config.redis.url) : null,
    },
    {
      provide: CacheStore,
      inject: [REDIS],
      useFactory: (redis: Redis | null) =>
        redis ? new RedisCacheStore(redis) : new InMemoryCacheStore(),
    },
    {
      provide: ConversationMemory,
      inject: [REDIS],
      useFactory: (redis: Redis | null) =>
        redis ? new RedisConversationMemory(redis) : new InMemoryConversationMemory(),
    },
    {
      provide: PubSub,
      inject: [REDIS],
      useFactory: (redis: Redis | null) =>
        redis ? new RedisPubSub(redis, redis.duplicate()) : new InMemoryPubSub(),
    },
    RedisCloser,
  ],
  exports: [REDIS, CacheStore, ConversationMemory, PubSub],
})
export class MemoryModule {}
