import { request } from '../support/http';
import { PrivateRedis } from '../support/redis-server';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/**
 * What the limiter does when Redis goes away (RATE_LIMIT_FAIL_OPEN): fail open lets requests through
 * and logs; fail closed answers 503. Health reports the outage either way.
 */
describe.each([
  ['open', 'true', 200],
  ['closed', 'false', 503],
])('Rate limiting with Redis down, failing %s', (_, failOpen, expectedStatus) => {
  const redis = new PrivateRedis();
  let app: TestApp;

  beforeAll(async () => {
    await redis.start();
    app = await startApp({
      ...storageSetups()[0].env(),
      REDIS_URL: redis.url,
      RATE_LIMIT_IP: '1000',
      RATE_LIMIT_FAIL_OPEN: failOpen,
    });
  });
  afterAll(async () => {
    await app.close();
    await redis.stop();
    removeDataDir(app.env);
  });

  it(`answers ${expectedStatus} once Redis is unreachable`, async () => {
    const headers = bearer(signToken(newUserId()));
    expect((await request(`${app.url}/api/conversations`, { headers })).status).toBe(200);
    await redis.stop();

    const res = await request(`${app.url}/api/conversations`, { headers });
    expect(res.status).toBe(expectedStatus);
    if (expectedStatus === 503) expect(res.body.code).toBe('service_unavailable');

    const health = await request(`${app.url}/api/health`);
    expect(health.status).toBe(503);
    expect(health.body.services.redis.status).toBe('down');
  });
});
