import { Logger } from '@nestjs/common';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { loadConfig } from '../config/app.config';
import { RedisCacheStore } from '../memory/redis.cache.store';
import { QuotaService } from './quota.service';
import { StoreOutagePolicy } from './store-outage.policy';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

// In the e2e suites the rate limiter refuses first when failing closed; here the quota meets the outage itself.
describe.each([
  ['open', 'true'],
  ['closed', 'false'],
])('QuotaService with Redis unreachable, failing %s', (policy, failOpen) => {
  let redis: Redis;
  let quota: QuotaService;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    redis = new Redis({
      host: '127.0.0.1',
      port: await closedPort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => undefined);
    const config = loadConfig({
      QUOTA_DAILY_TOKENS: '100',
      LLM_MAX_OUTPUT_TOKENS: '40',
      RATE_LIMIT_FAIL_OPEN: failOpen,
    });
    quota = new QuotaService(config, new RedisCacheStore(redis), new StoreOutagePolicy(config));
  });
  afterAll(() => redis.disconnect());

  if (policy === 'open') {
    it('lets the send through, reserving nothing, and loses its charge without throwing', async () => {
      await expect(quota.reserve('ana')).resolves.toBeNull();
      await expect(quota.settle('ana', null, 30)).resolves.toBeUndefined();
    });
  } else {
    it('refuses the send with service_unavailable and a retryAfter', async () => {
      await expect(quota.reserve('ana')).rejects.toMatchObject({
        code: 'service_unavailable',
        retryAfter: expect.any(Number),
      });
    });
  }
});
