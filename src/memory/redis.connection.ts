import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/** Connects and fails start-up when Redis cannot be reached: a node must not run half-shared. */
export async function connectRedis(url: string): Promise<Redis> {
  const logger = new Logger('Redis');
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    connectionName: 'charla',
    // Commands issued in the same tick (a delta's XADD and PUBLISH, the limits checked together,
    // many streams' deltas under load) go out in one write: on the hot path a syscall per command
    // costs more than the commands themselves.
    enableAutoPipelining: true,
  });
  redis.on('error', (err: Error) => logger.warn(`Redis error: ${err.message}`));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Cannot reach Redis at REDIS_URL: ${(err as Error).message}`);
  }
  return redis;
}

/** QUIT when Redis answers (pending replies arrive first); otherwise drop the connection at once. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
