import { randomUUID } from 'node:crypto';
import { chatSuite, connectSocketIo, connectWs, storedMessages } from '../support/chat-clients';
import { request } from '../support/http';
import { storageSetups } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/**
 * Idempotent sends and the per-user limits a send passes. One generation at a time
 * (CHAT_MAX_CONCURRENT=1), which also makes concurrent repeats of a send race for that one slot, and
 * RATE_LIMIT_CHAT=3 per user, so a repeat that wrongly counted would show (each test has a new user
 * and sends at most 3 new messages).
 */
describe.each(storageSetups())('Sending messages [$name]', (setup) => {
  const suite = chatSuite(setup, { CHAT_MAX_CONCURRENT: '1', RATE_LIMIT_CHAT: '3' });
  const { fake } = suite;

  /** A fresh user, so conversation lists and limits start empty. */
  const newUser = () => {
    const token = signToken(newUserId());
    return {
      token,
      conversations: () =>
        request(`${suite.app.url}/api/conversations`, { headers: bearer(token) }),
    };
  };

  it('answers a repeated clientMessageId with the same ids, storing and generating nothing new', async () => {
    const { token, conversations } = newUser();
    const client = await connectSocketIo(suite.app.url, { token });
    const send = { clientMessageId: randomUUID(), content: 'Hola' };
    const first = await client.request('chat:send', send);
    await client.collectReply(first.replyId);

    const again = await client.request('chat:send', send);
    // A retry from another device, over the other transport, is the same send.
    const fromWs = await (await connectWs(suite.app.url, { token })).request('chat:send', send);

    const ids = {
      conversationId: first.conversationId,
      messageId: first.messageId,
      replyId: first.replyId,
    };
    expect(first).toEqual({ ok: true, ...ids, duplicate: false });
    expect(again).toEqual({ ok: true, ...ids, duplicate: true });
    expect(fromWs).toEqual({ ok: true, ...ids, duplicate: true });
    expect(fake.requests).toHaveLength(1);
    expect(
      (await storedMessages(suite.app.url, token, first.conversationId)).map((m) => m.role),
    ).toEqual(['user', 'assistant']);
    expect((await conversations()).body.data).toHaveLength(1);
    expect(client.of('chat:message')).toHaveLength(1);
  });

  it('stores one message and runs one generation for 10 concurrent sends over both transports, without spending the rate limit', async () => {
    const { token, conversations } = newUser();
    const devices = [
      await connectSocketIo(suite.app.url, { token }),
      await connectWs(suite.app.url, { token }),
      await connectSocketIo(suite.app.url, { token }),
      await connectWs(suite.app.url, { token }),
    ];
    fake.enqueue({ text: 'Una sola respuesta', tokenDelayMs: 5 });
    const send = { clientMessageId: randomUUID(), content: 'Hola, ¿hay alguien?' };

    const acks = await Promise.all(
      Array.from({ length: 10 }, (_, i) => devices[i % devices.length].request('chat:send', send)),
    );

    const [winner] = acks.filter((a) => a.duplicate === false);
    expect(winner).toBeDefined();
    const ids = {
      conversationId: winner.conversationId,
      messageId: winner.messageId,
      replyId: winner.replyId,
    };
    expect(acks).toEqual(
      acks.map((a) => ({ ok: true, ...ids, duplicate: a === winner ? false : true })),
    );
    expect(acks.filter((a) => a.duplicate)).toHaveLength(9);

    for (const device of devices) {
      expect((await device.collectReply(winner.replyId)).done?.content).toBe('Una sola respuesta');
      expect(device.of('chat:message')).toHaveLength(1);
    }
    expect(fake.requests).toHaveLength(1);
    const stored = await storedMessages(suite.app.url, token, winner.conversationId);
    expect(stored.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hola, ¿hay alguien?'],
      ['assistant', 'Una sola respuesta'],
    ]);
    // The losers' conversations were not left behind, empty.
    expect((await conversations()).body.data.map((c: { id: string }) => c.id)).toEqual([
      winner.conversationId,
    ]);

    // The repeats held no slot and counted nothing: of RATE_LIMIT_CHAT=3, the first send used one,
    // so two new messages go through (one after the other: one generation at a time)...
    const [phone] = devices;
    for (const content of ['Y?', '¿Seguís ahí?']) {
      const next = await phone.request('chat:send', { clientMessageId: randomUUID(), content });
      expect(next).toMatchObject({ ok: true, duplicate: false });
      expect((await phone.collectReply(next.replyId)).done?.status).toBe('complete');
    }
    // ...and the third is refused by the rate limit (its retryAfter is the minute's window, not the
    // 1 s of a busy generation slot).
    const refused = await phone.request('chat:send', {
      clientMessageId: randomUUID(),
      content: 'Uno más',
    });
    expect(refused).toEqual({
      ok: false,
      error: { code: 'rate_limited', message: expect.any(String), retryAfter: expect.any(Number) },
    });
    expect(refused.error.retryAfter).toBeGreaterThan(30);
    expect(fake.requests).toHaveLength(3);
  });

  it('answers a repeat sent while the first reply streams with duplicate: true, and the stream goes on untouched', async () => {
    const { token } = newUser();
    const phone = await connectSocketIo(suite.app.url, { token });
    const laptop = await connectWs(suite.app.url, { token });
    const chunks = ['Una', ' respuesta', ' que', ' tarda', ' un', ' poco', ' en', ' llegar'];
    fake.enqueue({ chunks, tokenDelayMs: 40 });
    const send = { clientMessageId: randomUUID(), content: 'Contame despacio' };
    const first = await phone.request('chat:send', send);
    await phone.next('chat:delta', (d) => d.seq === 2);

    // The app retries on another device, e.g. because the first ack seemed lost.
    const repeat = await laptop.request('chat:send', send);
    expect(repeat).toEqual({ ...first, duplicate: true });
    expect(phone.of('chat:done')).toHaveLength(0); // it really was mid-stream

    const reply = await phone.collectReply(first.replyId);
    expect(reply.deltas.map((d) => d.seq)).toEqual(chunks.map((_, i) => i + 1));
    expect(reply.text).toBe(chunks.join(''));
    expect(reply.done).toMatchObject({ status: 'complete', content: chunks.join('') });
    await phone.next('typing', (t) => !t.isTyping);
    expect(phone.of('typing').map((t) => t.isTyping)).toEqual([true, false]);
    expect(phone.of('chat:message')).toHaveLength(1);
    // The retrying device sees the same reply end.
    expect((await laptop.collectReply(first.replyId)).done).toEqual(reply.done);
    expect(fake.requests).toHaveLength(1);
    const stored = await storedMessages(suite.app.url, token, first.conversationId);
    expect(stored.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Contame despacio'],
      ['assistant', chunks.join('')],
    ]);
  });

  it('refuses every concurrent repeat of a send the limits refuse, at once and alike', async () => {
    const { token } = newUser();
    const client = await connectSocketIo(suite.app.url, { token });
    for (const content of ['uno', 'dos', 'tres']) {
      const ack = await client.request('chat:send', { clientMessageId: randomUUID(), content });
      await client.collectReply(ack.replyId);
    }
    // The budget of 3 is spent. Repeats waiting on the refused first send take its place in turn:
    // each is refused by the limit too, none hangs on the one before it.
    const send = { clientMessageId: randomUUID(), content: 'cuatro' };
    const started = Date.now();
    const acks = await Promise.all(
      Array.from({ length: 3 }, () => client.request('chat:send', send)),
    );
    expect(acks).toEqual(
      Array.from({ length: 3 }, () => ({
        ok: false,
        error: {
          code: 'rate_limited',
          message: expect.any(String),
          retryAfter: expect.any(Number),
        },
      })),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fake.requests).toHaveLength(3);
  });

  it('refuses a second generation while one runs (rate_limited), and accepts it once the first ended', async () => {
    const { token } = newUser();
    const phone = await connectSocketIo(suite.app.url, { token });
    const laptop = await connectWs(suite.app.url, { token });
    fake.enqueue({ chunks: ['Una', ' respuesta', ' lenta'], tokenDelayMs: 100 }, { text: 'Otra' });
    const first = await phone.request('chat:send', {
      clientMessageId: randomUUID(),
      content: 'Uno',
    });
    await phone.next('chat:delta');

    const second = { clientMessageId: randomUUID(), content: 'Dos' };
    const refused = await laptop.request('chat:send', second);
    expect(refused).toEqual({
      ok: false,
      error: { code: 'rate_limited', message: expect.any(String), retryAfter: expect.any(Number) },
    });
    expect(refused.error.retryAfter).toBeGreaterThan(0);

    expect((await phone.collectReply(first.replyId)).done?.status).toBe('complete');
    // The refused send stored nothing: retrying it is a first send, not a duplicate.
    const retried = await laptop.request('chat:send', second);
    expect(retried).toMatchObject({ ok: true, duplicate: false });
    expect((await laptop.collectReply(retried.replyId)).done?.content).toBe('Otra');
    expect(fake.requests).toHaveLength(2);
  });
});
