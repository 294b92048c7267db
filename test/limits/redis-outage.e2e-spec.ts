import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageDto } from '@charla/contracts';
import {
  chatAppEnv,
  closeClients,
  connectSocketIo,
  storedMessages,
  type SocketIoClient,
} from '../support/chat-clients';
import { FakeLlm } from '../support/fake-llm';
import { request } from '../support/http';
import { PrivateRedis } from '../support/redis-server';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/** Redis calls fail only after ioredis gave up reconnecting, so a send takes a while to be answered. */
const OUTAGE_WAIT_MS = 12_000;

/** The reply once it is no longer streaming, polled through the history API; bounded in time. */
async function endedReply(
  app: TestApp,
  token: string,
  ack: { conversationId: string; replyId: string },
): Promise<MessageDto | undefined> {
  const deadline = Date.now() + OUTAGE_WAIT_MS;
  for (;;) {
    const reply = (await storedMessages(app.url, token, ack.conversationId)).find(
      (m) => m.id === ack.replyId,
    );
    if (reply?.status !== 'streaming' || Date.now() > deadline) return reply;
    await sleep(100);
  }
}

/**
 * What the limits do when Redis goes away (RATE_LIMIT_FAIL_OPEN): failing open lets requests and
 * sends through (the rate limits and the daily quota alike) and logs; failing closed answers
 * `service_unavailable`. Health reports the outage either way.
 */
describe.each([
  ['open', 'true'],
  ['closed', 'false'],
])('Limits with Redis down, failing %s', (policy, failOpen) => {
  const redis = new PrivateRedis();
  const fake = new FakeLlm({ text: 'Sigo acá' });
  const token = signToken(newUserId());
  const headers = bearer(token);
  let app: TestApp;
  let io: SocketIoClient;

  beforeAll(async () => {
    await Promise.all([redis.start(), fake.start()]);
    app = await startApp(
      chatAppEnv(fake, {
        ...storageSetups()[0].env(),
        REDIS_URL: redis.url,
        RATE_LIMIT_IP: '1000',
        RATE_LIMIT_FAIL_OPEN: failOpen,
        QUOTA_DAILY_TOKENS: '100000',
      }),
    );
    expect((await request(`${app.url}/api/conversations`, { headers })).status).toBe(200);
    io = await connectSocketIo(app.url, { token });
    await redis.stop();
  });
  afterAll(async () => {
    closeClients();
    await app.close();
    await fake.stop();
    removeDataDir(app.env);
  });

  it(`answers REST with ${policy === 'open' ? 200 : 503}, and health reports Redis down`, async () => {
    const res = await request(`${app.url}/api/conversations`, { headers });
    if (policy === 'open') {
      expect(res.status).toBe(200);
    } else {
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('service_unavailable');
    }
    const health = await request(`${app.url}/api/health`);
    expect(health.status).toBe(503);
    expect(health.body.services.redis.status).toBe('down');
  });

  const send = () =>
    io.request('chat:send', { clientMessageId: randomUUID(), content: 'hola' }, OUTAGE_WAIT_MS);

  if (policy === 'open') {
    it(
      'lets a Socket.IO chat:send through the rate limit and the quota, and stores its reply',
      async () => {
        const ack = await send();
        expect(ack.error).toBeUndefined();
        expect(ack).toMatchObject({ ok: true, duplicate: false });
        await fake.waitForRequests(1, OUTAGE_WAIT_MS);
        // Live events travel through Redis pub/sub, which is down; the stored reply is what counts.
        expect(await endedReply(app, token, ack)).toMatchObject({
          status: 'complete',
          content: 'Sigo acá',
        });
      },
      3 * OUTAGE_WAIT_MS,
    );
  } else {
    it('refuses a Socket.IO chat:send with service_unavailable before any upstream request', async () => {
      expect(await send()).toMatchObject({
        ok: false,
        error: { code: 'service_unavailable', retryAfter: expect.any(Number) },
      });
      expect(fake.requests).toHaveLength(0);
    });
  }
});
