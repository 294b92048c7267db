import type { OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { closeRedis } from './redis.connection';
import { MessageHandler, PubSub } from './pub-sub';

/**
 * PubSub over Redis: one dedicated subscriber connection per node (a subscribed client can only
 * subscribe). Redis channels ignore the database number, so each channel name carries it: two
 * deployments on one Redis with different databases never hear each other.
 */
export class RedisPubSub extends PubSub implements OnApplicationShutdown {
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private readonly suffix: string;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
  ) {
    super();
    this.suffix = `@db${publisher.options.db ?? 0}`;
    subscriber.on('message', (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(message);
    });
  }

  async publish(name: string, message: string): Promise<void> {
    await this.publisher.publish(name + this.suffix, message);
  }

  async subscribe(name: string, handler: MessageHandler): Promise<() => Promise<void>> {
    const channel = name + this.suffix;
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) {
        this.handlers.delete(channel);
        await this.subscriber.unsubscribe(channel);
      }
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await closeRedis(this.subscriber);
  }
}
