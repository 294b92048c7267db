import { randomUUID } from 'node:crypto';
import { FakeLlm } from '../support/fake-llm';
import { chatAppEnv, closeClients, connectSocketIo } from '../support/chat-clients';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const QUOTA = 100;

describe.each(storageSetups())('Daily token quota [$name]', (setup) => {
  const fake = new FakeLlm();
  let app: TestApp;

  beforeAll(async () => {
    await fake.start();
    app = await startApp(chatAppEnv(fake, { ...setup.env(), QUOTA_DAILY_TOKENS: String(QUOTA) }));
  });
  beforeEach(() => fake.reset());
  afterEach(() => closeClients());
  afterAll(async () => {
    await app.close();
    await fake.stop();
    removeDataDir(app.env);
  });

  it('charges real usage and refuses a send over quota before any upstream request', async () => {
    const user = newUserId();
    const token = signToken(user);
    const io = await connectSocketIo(app.url, { token });
    fake.setDefault({ text: 'fine', usage: { prompt_tokens: 40, completion_tokens: 20 } });

    for (let i = 0; i < 2; i++) {
      const ack = await io.request('chat:send', { clientMessageId: randomUUID(), content: 'hola' });
      await io.collectReply(ack.replyId);
    }
    const usage = await request(`${app.url}/api/me/usage`, { headers: bearer(token) });
    expect(usage.body).toMatchObject({ tokensUsed: 120, quota: QUOTA, remaining: 0 });
    expect(Date.parse(usage.body.resetsAt)).toBeGreaterThan(Date.now());

    const upstreamBefore = fake.requests.length;
    const refused = await io.request('chat:send', {
      clientMessageId: randomUUID(),
      content: 'more',
    });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'quota_exceeded', retryAfter: expect.any(Number) },
    });
    expect(refused.error.details.resetsAt).toBe(usage.body.resetsAt);
    const rest = await request(`${app.url}/api/chat`, {
      headers: bearer(token),
      body: { message: 'more' },
    });
    expect(rest.status).toBe(429);
    expect(rest.body.code).toBe('quota_exceeded');
    expect(fake.requests.length).toBe(upstreamBefore);

    // Someone else still has their whole quota.
    const other = await request(`${app.url}/api/me/usage`, {
      headers: bearer(signToken(newUserId())),
    });
    expect(other.body).toMatchObject({ tokensUsed: 0, remaining: QUOTA });
  });

  it('counts what an aborted generation streamed', async () => {
    const token = signToken(newUserId());
    const io = await connectSocketIo(app.url, { token });
    fake.setDefault({
      text: 'uno dos tres cuatro cinco seis siete ocho nueve diez',
      tokenDelayMs: 100,
      usage: false,
    });
    const ack = await io.request('chat:send', { clientMessageId: randomUUID(), content: 'cuenta' });
    await io.next('chat:delta', (d) => d.replyId === ack.replyId && d.seq >= 2);
    expect(await io.request('chat:abort', { replyId: ack.replyId })).toMatchObject({
      ok: true,
      status: 'aborted',
    });
    const { done } = await io.collectReply(ack.replyId);
    expect(done!.usage!.completionTokens).toBeGreaterThan(0);
    const usage = await request(`${app.url}/api/me/usage`, { headers: bearer(token) });
    expect(usage.body.tokensUsed).toBe(done!.usage!.totalTokens);
  });
});
