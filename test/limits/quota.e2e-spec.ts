import { randomUUID } from 'node:crypto';
import type { UsageToday } from '@charla/contracts';
import {
  chatSuite,
  connectSocketIo,
  connectWs,
  storedMessages,
  type ChatClient,
} from '../support/chat-clients';
import { request } from '../support/http';
import { storageSetups } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const QUOTA = 300;
/** LLM_MAX_OUTPUT_TOKENS: what each send reserves until its reply ends. */
const RESERVATION = 50;
const MAX_CONCURRENT = 3;
/** What the fake reports for a reply unless a test says otherwise: 10 + 30 = 40 tokens. */
const REPLY = { text: 'vale', usage: { prompt_tokens: 10, completion_tokens: 30 } };
const SLOW_REPLY = { ...REPLY, firstTokenDelayMs: 500 };

describe.each(storageSetups())('Daily token quota [$name]', (setup) => {
  const suite = chatSuite(
    setup,
    {
      QUOTA_DAILY_TOKENS: String(QUOTA),
      LLM_MAX_OUTPUT_TOKENS: String(RESERVATION),
      CHAT_MAX_CONCURRENT: String(MAX_CONCURRENT),
      // Failure tests must not open the circuit for the tests after them.
      LLM_BREAKER_THRESHOLD: '1000',
    },
    REPLY,
  );
  const { fake } = suite;

  const usageOf = async (token: string): Promise<UsageToday> =>
    (await request<UsageToday>(`${suite.app.url}/api/me/usage`, { headers: bearer(token) })).body;
  const send = (client: ChatClient, extra: object = {}) =>
    client.request('chat:send', { clientMessageId: randomUUID(), content: 'hola', ...extra });
  /** A user who already spent `tokens` today in one reply. */
  async function userWhoSpent(tokens: number) {
    const token = signToken(newUserId());
    const io = await connectSocketIo(suite.app.url, { token });
    fake.enqueue({ text: 'largo', usage: { prompt_tokens: tokens - 40, completion_tokens: 40 } });
    const ack = await send(io);
    expect((await io.collectReply(ack.replyId)).done?.status).toBe('complete');
    return { token, io };
  }

  it('refuses a send when less than one reply is left, before any upstream request', async () => {
    const { token, io } = await userWhoSpent(270);
    const before = await usageOf(token);
    expect(before).toMatchObject({ tokensUsed: 270, quota: QUOTA, remaining: 30 });
    expect(Date.parse(before.resetsAt)).toBeGreaterThan(Date.now());
    const secondsToReset = (Date.parse(before.resetsAt) - Date.now()) / 1000;
    const upstreamBefore = fake.requests.length;

    const refused = await send(io);
    expect(refused).toMatchObject({
      ok: false,
      error: { code: 'quota_exceeded', details: { quota: QUOTA, resetsAt: before.resetsAt } },
    });
    expect(Math.abs(refused.error.retryAfter - secondsToReset)).toBeLessThan(5);
    const ws = await connectWs(suite.app.url, { token });
    expect(await send(ws)).toMatchObject({ ok: false, error: { code: 'quota_exceeded' } });
    const rest = await request(`${suite.app.url}/api/chat`, {
      headers: bearer(token),
      body: { message: 'más' },
    });
    expect(rest.status).toBe(429);
    expect(rest.body.code).toBe('quota_exceeded');
    expect(rest.headers.get('retry-after')).toBe(String(rest.body.retryAfter));

    expect(fake.requests).toHaveLength(upstreamBefore);
    // A refused send costs nothing.
    expect(await usageOf(token)).toMatchObject({ tokensUsed: 270, remaining: 30 });
    // Someone else still has their whole quota.
    expect(await usageOf(signToken(newUserId()))).toMatchObject({
      tokensUsed: 0,
      remaining: QUOTA,
    });
  });

  it('lets through only as many concurrent sends as the quota has room to reserve', async () => {
    const { token, io } = await userWhoSpent(200);
    fake.setDefault(SLOW_REPLY);
    const acks = await Promise.all(Array.from({ length: 5 }, () => send(io)));

    const accepted = acks.filter((a) => a.ok);
    expect(accepted).toHaveLength(2);
    expect(acks.filter((a) => !a.ok).map((a) => a.error.code)).toEqual([
      'quota_exceeded',
      'quota_exceeded',
      'quota_exceeded',
    ]);
    // While the replies run, their reservations count: nothing is left for another send.
    expect(await usageOf(token)).toMatchObject({ tokensUsed: 300, remaining: 0 });
    await Promise.all(accepted.map((a) => io.collectReply(a.replyId)));
    expect(await usageOf(token)).toMatchObject({ tokensUsed: 280, remaining: 20 });
    expect(fake.requests).toHaveLength(3);
  });

  it('gives the reservation back when a send starts no generation', async () => {
    const token = signToken(newUserId());
    const io = await connectSocketIo(suite.app.url, { token });
    // The conversation is looked up after the reservation was made.
    expect(await send(io, { conversationId: randomUUID() })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect(await usageOf(token)).toMatchObject({ tokensUsed: 0, remaining: QUOTA });

    fake.setDefault(SLOW_REPLY);
    const running = await Promise.all(Array.from({ length: MAX_CONCURRENT }, () => send(io)));
    expect(running.every((a) => a.ok)).toBe(true);
    // One more than the generation slots: refused after its reservation, which it returns.
    expect(await send(io)).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expect(await usageOf(token)).toMatchObject({ tokensUsed: MAX_CONCURRENT * RESERVATION });

    await Promise.all(running.map((a) => io.collectReply(a.replyId)));
    expect(await usageOf(token)).toMatchObject({ tokensUsed: MAX_CONCURRENT * 40 });
    expect(fake.requests).toHaveLength(MAX_CONCURRENT);
  });

  it('charges what an aborted generation streamed, as its stored usage says', async () => {
    const token = signToken(newUserId());
    const io = await connectSocketIo(suite.app.url, { token });
    fake.setDefault({
      text: 'uno dos tres cuatro cinco seis siete ocho nueve diez',
      tokenDelayMs: 100,
      usage: false,
    });
    const ack = await send(io);
    await io.next('chat:delta', (d) => d.replyId === ack.replyId && d.seq >= 2);
    expect(await io.request('chat:abort', { replyId: ack.replyId })).toMatchObject({
      ok: true,
      status: 'aborted',
    });
    const { done } = await io.collectReply(ack.replyId);

    const stored = (await storedMessages(suite.app.url, token, ack.conversationId)).find(
      (m) => m.id === ack.replyId,
    )!;
    expect(stored).toMatchObject({ status: 'aborted', usage: done!.usage });
    expect(stored.usage!.completionTokens).toBeGreaterThan(0);
    expect((await usageOf(token)).tokensUsed).toBe(stored.usage!.totalTokens);
  });

  it.each([
    ['the LLM answering 500 to every retry', { status: 500 }, ''],
    [
      'the LLM dropping the connection mid-stream',
      { text: 'uno dos tres cuatro', dropAfterChunks: 2 },
      'uno dos',
    ],
  ])('charges a generation failed by %s what it consumed', async (_, script, streamed) => {
    const token = signToken(newUserId());
    const io = await connectSocketIo(suite.app.url, { token });
    fake.setDefault(script);
    const ack = await send(io);
    const { error, text } = await io.collectReply(ack.replyId);
    expect(error?.code).toMatch(/^upstream_/);
    expect(text).toBe(streamed);

    const stored = (await storedMessages(suite.app.url, token, ack.conversationId)).find(
      (m) => m.id === ack.replyId,
    )!;
    expect(stored).toMatchObject({ status: 'failed', content: streamed });
    expect(stored.usage!.promptTokens).toBeGreaterThan(0);
    if (streamed) expect(stored.usage!.completionTokens).toBeGreaterThan(0);
    // Charged what was consumed, with the reservation returned.
    expect((await usageOf(token)).tokensUsed).toBe(stored.usage!.totalTokens);
  });
});
