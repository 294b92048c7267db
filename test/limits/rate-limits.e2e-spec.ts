import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { FakeLlm } from '../support/fake-llm';
import {
  chatAppEnv,
  chatSuite,
  closeClients,
  connectSocketIo,
  connectWs,
  type ChatClient,
} from '../support/chat-clients';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const SEND_LIMIT = 20;
const HISTORY_LIMIT = 10;

const send = (client: ChatClient, content = 'hi') =>
  client.request('chat:send', { clientMessageId: randomUUID(), content });

describe.each(storageSetups())('Rate limits [$name]', (setup) => {
  const fake = new FakeLlm();
  let app: TestApp;

  beforeAll(async () => {
    await fake.start();
    fake.setDefault({ text: 'ok', usage: false });
    app = await startApp(
      chatAppEnv(fake, {
        ...setup.env(),
        RATE_LIMIT_CHAT: String(SEND_LIMIT),
        RATE_LIMIT_HISTORY: String(HISTORY_LIMIT),
        CHAT_MAX_CONCURRENT: '100',
      }),
    );
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await app.close();
    await fake.stop();
    removeDataDir(app.env);
  });

  it('refuses the 21st send in a window, whichever transports the 21 came through', async () => {
    const user = newUserId();
    const token = signToken(user);
    const io = await connectSocketIo(app.url, { token });
    const ws = await connectWs(app.url, { token });
    const rest = () =>
      request(`${app.url}/api/chat`, { headers: bearer(token), body: { message: 'hi' } });

    for (let i = 0; i < 7; i++) expect((await send(io)).ok).toBe(true);
    for (let i = 0; i < 7; i++) expect((await send(ws)).ok).toBe(true);
    for (let i = 0; i < 6; i++) expect((await rest()).status).toBe(200);

    const socketRefusal = await send(io);
    expect(socketRefusal).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expect(socketRefusal.error.retryAfter).toBeGreaterThan(0);
    expect(socketRefusal.error.retryAfter).toBeLessThanOrEqual(60);
    expect(await send(ws)).toMatchObject({ ok: false, error: { code: 'rate_limited' } });

    const restRefusal = await rest();
    expect(restRefusal.status).toBe(429);
    expect(restRefusal.body).toMatchObject({
      code: 'rate_limited',
      retryAfter: expect.any(Number),
    });
    expect(restRefusal.headers.get('retry-after')).toBe(String(restRefusal.body.retryAfter));
    expect(restRefusal.headers.get('ratelimit-limit')).toBe(String(SEND_LIMIT));
    expect(restRefusal.headers.get('ratelimit-remaining')).toBe('0');

    // Another user has a budget of their own.
    const other = await connectSocketIo(app.url, { token: signToken(newUserId()) });
    expect((await send(other)).ok).toBe(true);
  });

  it('does not count a repeated clientMessageId (a retry on a flaky network)', async () => {
    const io = await connectSocketIo(app.url, { token: signToken(newUserId()) });
    const clientMessageId = randomUUID();
    for (let i = 0; i < SEND_LIMIT + 5; i++) {
      expect(await io.request('chat:send', { clientMessageId, content: 'same' })).toMatchObject({
        ok: true,
      });
    }
  });

  it('limits history reads per user, with RateLimit headers on every response', async () => {
    const headers = bearer(signToken(newUserId()));
    const conversation = (await request(`${app.url}/api/conversations`, { headers, body: {} }))
      .body;
    const read = () =>
      request(`${app.url}/api/conversations/${conversation.id}/messages`, { headers });
    for (let i = 1; i <= HISTORY_LIMIT; i++) {
      const ok = await read();
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-limit')).toBe(String(HISTORY_LIMIT));
      expect(ok.headers.get('ratelimit-remaining')).toBe(String(HISTORY_LIMIT - i));
      expect(Number(ok.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    }
    const refused = await read();
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ code: 'rate_limited', retryAfter: expect.any(Number) });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Other routes are not history reads.
    expect(
      (await request(`${app.url}/api/conversations/${conversation.id}`, { headers })).status,
    ).toBe(200);
  });
});

const SHORT_WINDOW_S = 3;
const SHORT_LIMIT = 3;

describe.each(storageSetups())('retryAfter in a short window [$name]', (setup) => {
  const suite = chatSuite(
    setup,
    {
      RATE_LIMIT_WINDOW_S: String(SHORT_WINDOW_S),
      RATE_LIMIT_CHAT: String(SHORT_LIMIT),
      // Replies still running must not refuse a send for want of a slot: only the window is tested.
      CHAT_MAX_CONCURRENT: '100',
    },
    { text: 'ok', usage: false },
  );

  it('is the time left in the window on every transport, and enough to wait', async () => {
    const token = signToken(newUserId());
    const io = await connectSocketIo(suite.app.url, { token });
    const ws = await connectWs(suite.app.url, { token });
    const rest = () =>
      request(`${suite.app.url}/api/chat`, { headers: bearer(token), body: { message: 'hi' } });
    const sendOnEach = async () => {
      expect((await send(io)).ok).toBe(true);
      expect((await send(ws)).ok).toBe(true);
      expect((await rest()).status).toBe(200);
    };
    /** The window opened with the first send, so this much of it was left at the latest. */
    const windowStart = Date.now();
    const leftAtLeast = () => SHORT_WINDOW_S - (Date.now() - windowStart) / 1000;
    const expectTimeLeft = (retryAfter: number) => {
      expect(retryAfter).toBeLessThanOrEqual(SHORT_WINDOW_S);
      expect(retryAfter).toBeGreaterThanOrEqual(Math.max(1, leftAtLeast() - 1));
    };
    await sendOnEach();

    const ioRefusal = await send(io);
    expect(ioRefusal).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expectTimeLeft(ioRefusal.error.retryAfter);
    const wsRefusal = await send(ws);
    expect(wsRefusal).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expectTimeLeft(wsRefusal.error.retryAfter);
    const restRefusal = await rest();
    expect(restRefusal.status).toBe(429);
    expect(restRefusal.body.code).toBe('rate_limited');
    const { retryAfter } = restRefusal.body;
    expectTimeLeft(retryAfter);
    expect(restRefusal.headers.get('retry-after')).toBe(String(retryAfter));
    expect(restRefusal.headers.get('ratelimit-reset')).toBe(String(retryAfter));
    // It counts down: a later refusal never asks to wait longer.
    expect(wsRefusal.error.retryAfter).toBeLessThanOrEqual(ioRefusal.error.retryAfter);
    expect(retryAfter).toBeLessThanOrEqual(wsRefusal.error.retryAfter);

    await sleep(retryAfter * 1000);
    await sendOnEach();
  });
});

describe('Per-IP limits behind a trusted proxy', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({
      ...storageSetups()[0].env(),
      RATE_LIMIT_IP: '5',
      RATE_LIMIT_HANDSHAKES: '3',
      TRUSTED_PROXIES: 'loopback',
    });
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  const fromIp = (ip: string) => request(`${app.url}/`, { headers: { 'x-forwarded-for': ip } });

  it('counts each client address forwarded by the proxy separately', async () => {
    for (let i = 0; i < 5; i++) expect((await fromIp('203.0.113.7')).status).toBe(200);
    const refused = await fromIp('203.0.113.7');
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('rate_limited');
    expect((await fromIp('203.0.113.8')).status).toBe(200);
    // Health probes are never limited: a load balancer must see the truth.
    const probe = await request(`${app.url}/api/health/live`, {
      headers: { 'x-forwarded-for': '203.0.113.7' },
    });
    expect(probe.status).toBe(200);
  });

  it('limits socket handshakes per address on both transports', async () => {
    const token = signToken(newUserId());
    const headers = { 'x-forwarded-for': '198.51.100.9' };
    await connectSocketIo(app.url, { token, headers });
    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/ws`, {
      headers: { ...headers, ...bearer(token) },
    });
    await once(ws, 'open');
    ws.close();
    await connectSocketIo(app.url, { token, headers });
    await expect(connectSocketIo(app.url, { token, headers })).rejects.toMatchObject({
      data: { code: 'rate_limited' },
    });
  });
});

describe('A proxy that is not trusted cannot spoof addresses', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ ...storageSetups()[0].env(), RATE_LIMIT_IP: '3' });
  });
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  it('ignores X-Forwarded-For and counts the connecting address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(`${app.url}/`, {
        headers: { 'x-forwarded-for': `192.0.2.${i}` },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('Sockets per user', () => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startApp({ ...storageSetups()[0].env(), MAX_SOCKETS_PER_USER: '2' });
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  it('refuses one more socket than MAX_SOCKETS_PER_USER, on either transport', async () => {
    const token = signToken(newUserId());
    await connectSocketIo(app.url, { token });
    await connectWs(app.url, { token });
    await expect(connectSocketIo(app.url, { token })).rejects.toMatchObject({
      data: { code: 'rate_limited' },
    });
    // Someone else is unaffected.
    await connectSocketIo(app.url, { token: signToken(newUserId()) });
  });
});

const withRealBackends = process.env.CHARLA_TEST_REAL_BACKENDS === '0' ? describe.skip : describe;

withRealBackends('Rate limits across two nodes sharing Redis', () => {
  const fake = new FakeLlm();
  const CROSS_NODE_HISTORY_LIMIT = 4;
  const CROSS_NODE_IP_LIMIT = 6;
  let nodes: TestApp[];

  beforeAll(async () => {
    await fake.start();
    fake.setDefault({ text: 'ok' });
    const env = chatAppEnv(fake, {
      ...storageSetups()[1].env(),
      RATE_LIMIT_CHAT: String(SEND_LIMIT),
      RATE_LIMIT_HISTORY: String(CROSS_NODE_HISTORY_LIMIT),
      RATE_LIMIT_IP: String(CROSS_NODE_IP_LIMIT),
      TRUSTED_PROXIES: 'loopback',
      CHAT_MAX_CONCURRENT: '100',
    });
    nodes = [await startApp(env), await startApp(env)];
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await fake.stop();
  });

  /**
   * Requests arrive as nginx forwards them, each test with client addresses of its own (a header,
   * never a target), so the per-address budget of one test does not reach another's.
   */
  const clientAddress = () => `198.51.100.${1 + Math.floor(Math.random() * 254)}`;
  const viaProxy = (headers: Record<string, string> = {}) => ({
    ...headers,
    'x-forwarded-for': clientAddress(),
  });

  it('counts one chat budget for sends split between the nodes and the transports', async () => {
    const token = signToken(newUserId());
    const a = await connectSocketIo(nodes[0].url, { token });
    const b = await connectWs(nodes[1].url, { token });
    for (let i = 0; i < SEND_LIMIT; i++) expect((await send(i % 2 ? a : b)).ok).toBe(true);
    expect(await send(a)).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expect(await send(b)).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    const rest = await request(`${nodes[0].url}/api/chat`, {
      headers: viaProxy(bearer(token)),
      body: { message: 'y por REST?' },
    });
    expect(rest.status).toBe(429);
    expect(rest.body.code).toBe('rate_limited');
  });

  it('counts one history budget for reads split between the nodes', async () => {
    const user = newUserId();
    const read = (node: TestApp) =>
      request(`${node.url}/api/chat/history/${user}`, {
        headers: viaProxy(bearer(signToken(user))),
      });
    for (let i = 0; i < CROSS_NODE_HISTORY_LIMIT; i++) {
      const ok = await read(nodes[i % 2]);
      expect(ok.status).toBe(200);
      expect(Number(ok.headers.get('ratelimit-remaining'))).toBe(CROSS_NODE_HISTORY_LIMIT - i - 1);
    }
    for (const node of nodes) expect((await read(node)).status).toBe(429);
  });

  it('counts one per-address budget for requests split between the nodes', async () => {
    // From a range the other tests' addresses never come from.
    const headers = { 'x-forwarded-for': `203.0.113.${1 + Math.floor(Math.random() * 254)}` };
    for (let i = 0; i < CROSS_NODE_IP_LIMIT; i++)
      expect((await request(`${nodes[i % 2].url}/`, { headers })).status).toBe(200);
    for (const node of nodes) {
      const refused = await request(`${node.url}/`, { headers });
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('rate_limited');
    }
  });
});
