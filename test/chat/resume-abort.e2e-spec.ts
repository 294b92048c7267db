import { randomUUID } from 'node:crypto';
import {
  chatSuite,
  connectSocketIo,
  connectWs,
  storedMessages,
  type ChatClient,
} from '../support/chat-clients';
import { storageSetups } from '../support/test-app';
import { newUserId, signToken } from '../support/tokens';

const WORDS = ['Uno', ' dos', ' tres', ' cuatro', ' cinco', ' seis', ' siete', ' ocho'];
const TEXT = WORDS.join('');
const seqs = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A generation is not tied to a socket: it outlives disconnects, can be resumed and aborted. */
describe.each(storageSetups())('Resuming and aborting a reply [$name]', (setup) => {
  const suite = chatSuite(setup);
  const { fake } = suite;
  const user = newUserId();
  const token = signToken(user);

  const send = (client: ChatClient, content = 'Contá hasta ocho') =>
    client.request('chat:send', { clientMessageId: randomUUID(), content });
  const lastSeq = (client: ChatClient, replyId: string) =>
    Math.max(
      0,
      ...client
        .of('chat:delta')
        .filter((d) => d.replyId === replyId)
        .map((d) => d.seq),
    );

  it('resumes on a new socket mid-stream with exactly the missed deltas, then chat:done', async () => {
    // A delta every ~10 ms: live ones keep coming while the new socket connects and resumes.
    const chunks = Array.from({ length: 80 }, (_, i) => ` palabra${i + 1}`);
    fake.enqueue({ chunks, tokenDelayMs: 10 });
    const phone = await connectSocketIo(suite.app.url, { token });
    const ack = await send(phone);
    await phone.next('chat:delta', (d) => d.seq === 5);
    phone.close();
    const lastSeen = lastSeq(phone, ack.replyId);

    const again = await connectSocketIo(suite.app.url, { token });
    const resumed = await again.request('chat:resume', {
      replyId: ack.replyId,
      afterSeq: lastSeen,
    });
    expect(resumed).toEqual({ ok: true, status: 'streaming', lastSeq: expect.any(Number) });
    expect(resumed.lastSeq).toBeGreaterThanOrEqual(lastSeen);

    const rest = await again.collectReply(ack.replyId);
    // In order, no gap, no duplicate: what a client that drops seen seqs needs.
    expect(rest.deltas.map((d) => d.seq)).toEqual(seqs(lastSeen + 1, chunks.length));
    const seenByUser =
      phone
        .of('chat:delta')
        .map((d) => d.text)
        .join('') + rest.text;
    expect(seenByUser).toBe(chunks.join(''));
    expect(rest.done).toMatchObject({
      id: ack.replyId,
      status: 'complete',
      content: chunks.join(''),
    });
    // chat:done once, and after it only typing off.
    await again.next('typing', (t) => !t.isTyping);
    const events = again.received.map((r) => r.event);
    expect(events.slice(events.indexOf('chat:done'))).toEqual(['chat:done', 'typing']);
  });

  it('sends a socket that connects mid-reply no deltas from the middle; chat:resume from 0 gives them all', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => ` palabra${i + 1}`);
    fake.enqueue({ chunks, tokenDelayMs: 10 });
    const phone = await connectSocketIo(suite.app.url, { token });
    const ack = await send(phone);
    await phone.next('chat:delta', (d) => d.seq === 5);

    const tablet = await connectWs(suite.app.url, { token });
    const latecomer = await connectSocketIo(suite.app.url, { token });
    expect((await tablet.request('chat:resume', { replyId: ack.replyId, afterSeq: 0 })).ok).toBe(
      true,
    );
    const replayed = await tablet.collectReply(ack.replyId);
    expect(replayed.deltas.map((d) => d.seq)).toEqual(seqs(1, chunks.length));
    expect(replayed.text).toBe(chunks.join(''));

    // Not resumed: only the end of the reply, whose message carries the whole text.
    const ending = await latecomer.collectReply(ack.replyId);
    expect(ending.deltas).toEqual([]);
    expect(ending.done?.content).toBe(chunks.join(''));
  });

  it('completes and stores a reply whose only socket left, and replays it after it finished', async () => {
    fake.enqueue({ chunks: WORDS, tokenDelayMs: 30 });
    const phone = await connectWs(suite.app.url, { token });
    const ack = await send(phone);
    await phone.next('chat:delta', (d) => d.seq === 2);
    phone.close();
    const lastSeen = lastSeq(phone, ack.replyId);

    // No socket of the user is connected now; the reply finishes and is stored anyway.
    let stored = await storedMessages(suite.app.url, token, ack.conversationId);
    for (let polls = 0; polls < 100 && stored[1].status === 'streaming'; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      stored = await storedMessages(suite.app.url, token, ack.conversationId);
    }
    expect(stored[1]).toMatchObject({ id: ack.replyId, status: 'complete', content: TEXT });

    for (const client of [
      await connectSocketIo(suite.app.url, { token }),
      await connectWs(suite.app.url, { token }),
    ]) {
      const resumed = await client.request('chat:resume', {
        replyId: ack.replyId,
        afterSeq: lastSeen,
      });
      expect(resumed).toEqual({ ok: true, status: 'complete', lastSeq: WORDS.length });
      const rest = await client.collectReply(ack.replyId);
      expect(rest.deltas.map((d) => d.seq)).toEqual(seqs(lastSeen + 1, WORDS.length));
      expect(rest.done).toEqual(stored[1]);
      expect(
        phone
          .of('chat:delta')
          .map((d) => d.text)
          .join('') + rest.text,
      ).toBe(TEXT);
    }

    // From the start, and from the very end (only chat:done).
    const late = await connectSocketIo(suite.app.url, { token });
    await late.request('chat:resume', { replyId: ack.replyId, afterSeq: 0 });
    expect((await late.collectReply(ack.replyId)).text).toBe(TEXT);
    const upToDate = await connectSocketIo(suite.app.url, { token });
    await upToDate.request('chat:resume', { replyId: ack.replyId, afterSeq: WORDS.length });
    const nothingNew = await upToDate.collectReply(ack.replyId);
    expect(nothingNew.deltas).toEqual([]);
    expect(nothingNew.done?.status).toBe('complete');
  });

  it('aborts mid-stream: the upstream request closes, the partial reply is stored as aborted', async () => {
    fake.enqueue({ chunks: [...WORDS, ...WORDS, ...WORDS], tokenDelayMs: 60 });
    const client = await connectSocketIo(suite.app.url, { token });
    const ack = await send(client);
    const [upstream] = await fake.waitForRequests(1);
    await client.next('chat:delta', (d) => d.seq === 3);

    const abortedAt = Date.now();
    const aborted = await client.request('chat:abort', { replyId: ack.replyId });
    expect(aborted).toEqual({ ok: true, status: 'aborted' });
    const end = await fake.waitForEnd(upstream, 1000);
    expect(end.how).toBe('client-closed');
    expect(end.at - abortedAt).toBeLessThan(1000);

    const reply = await client.collectReply(ack.replyId);
    await client.next('typing', (t) => t.replyId === ack.replyId && !t.isTyping);
    expect(reply.deltas.map((d) => d.seq)).toEqual(seqs(1, reply.deltas.length));
    expect(reply.deltas.length).toBeLessThan(WORDS.length * 3);
    expect(reply.done).toMatchObject({
      id: ack.replyId,
      status: 'aborted',
      content: reply.text,
      usage: {
        promptTokens: expect.any(Number),
        completionTokens: expect.any(Number),
        estimated: true,
      },
    });
    expect(reply.done!.usage!.completionTokens).toBeGreaterThan(0);
    const stored = await storedMessages(suite.app.url, token, ack.conversationId);
    expect(stored[1]).toEqual(reply.done);

    // Aborting again (from /ws this time) changes nothing.
    const ws = await connectWs(suite.app.url, { token });
    expect(await ws.request('chat:abort', { replyId: ack.replyId })).toEqual({
      ok: true,
      status: 'aborted',
    });
    expect((await storedMessages(suite.app.url, token, ack.conversationId))[1]).toEqual(reply.done);
  });

  it('aborting a finished reply acks its status and keeps it', async () => {
    fake.enqueue({ text: 'Ya está' });
    const client = await connectSocketIo(suite.app.url, { token });
    const ack = await send(client);
    await client.collectReply(ack.replyId);

    expect(await client.request('chat:abort', { replyId: ack.replyId })).toEqual({
      ok: true,
      status: 'complete',
    });
    expect((await storedMessages(suite.app.url, token, ack.conversationId))[1]).toMatchObject({
      status: 'complete',
      content: 'Ya está',
    });
  });
});
