import { randomUUID } from 'node:crypto';
import {
  chatAppEnv,
  closeClients,
  connectSocketIo,
  connectWs,
  storedMessages,
} from '../support/chat-clients';
import { FakeLlm } from '../support/fake-llm';
import { startApp, type TestApp } from '../support/test-app';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/backends';
import { request } from '../support/http';
import { bearer, newUserId, signToken } from '../support/tokens';

const WORDS = ['Uno', ' dos', ' tres', ' cuatro', ' cinco', ' seis'];
const TEXT = WORDS.join('');
const realBackends = process.env.CHARLA_TEST_REAL_BACKENDS !== '0';

/** Two nodes sharing PostgreSQL and Redis: a user's sockets may sit on either (SPEC §4, §10). */
(realBackends ? describe : describe.skip)('Chat across two nodes [PostgreSQL + Redis]', () => {
  let nodeA: TestApp;
  let nodeB: TestApp;
  const fake = new FakeLlm();
  const token = signToken(newUserId());

  beforeAll(async () => {
    await fake.start();
    // One generation per user at a time: a repeat that got past the idempotency claim on either node
    // would then be refused (rate_limited) instead of passing unnoticed. Every test waits for its reply.
    const env = {
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      ...chatAppEnv(fake, { CHAT_MAX_CONCURRENT: '1' }),
    };
    nodeA = await startApp(env);
    nodeB = await startApp(env);
  });
  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await fake.stop();
  });
  afterEach(() => {
    closeClients();
    fake.reset();
  });

  const send = (content: string) => ({ clientMessageId: randomUUID(), content });

  it("streams a send on node A to the user's sockets on node B, over both transports", async () => {
    fake.enqueue({ chunks: WORDS, tokenDelayMs: 5 });
    const onA = await connectSocketIo(nodeA.url, { token });
    const onB = await connectSocketIo(nodeB.url, { token });
    const wsOnB = await connectWs(nodeB.url, { token });

    const ack = await onA.request('chat:send', send('Contá hasta seis'));
    const seenOnA = await onA.collectReply(ack.replyId);

    for (const client of [onB, wsOnB]) {
      const seen = await client.collectReply(ack.replyId);
      expect(seen.deltas).toEqual(seenOnA.deltas);
      expect(seen.deltas.map((d) => d.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seen.done).toEqual(seenOnA.done);
      expect(client.of('chat:message').map((m) => m.message.id)).toEqual([ack.messageId]);
      await client.next('typing', (t) => !t.isTyping);
      expect(client.of('typing').map((t) => t.isTyping)).toEqual([true, false]);
    }
    expect(seenOnA.done).toMatchObject({ status: 'complete', content: TEXT });
    // Each delta reached each socket once, although both nodes got every event.
    expect(onB.of('chat:delta')).toHaveLength(WORDS.length);
  });

  it('stores and generates once when the same clientMessageId reaches node A and node B at once', async () => {
    // A user of their own: the conversation list below must hold only this test's.
    const ownToken = signToken(newUserId());
    fake.enqueue({ chunks: WORDS, tokenDelayMs: 5 });
    const onA = [
      await connectSocketIo(nodeA.url, { token: ownToken }),
      await connectWs(nodeA.url, { token: ownToken }),
    ];
    const onB = [
      await connectWs(nodeB.url, { token: ownToken }),
      await connectSocketIo(nodeB.url, { token: ownToken }),
    ];
    const repeated = send('Hola desde dos nodos');

    // A flaky network: the app retried, and the load balancer spread the retries over both nodes.
    const acks = await Promise.all(
      Array.from({ length: 8 }, (_, i) => [...onA, ...onB][i % 4].request('chat:send', repeated)),
    );

    const firsts = acks.filter((a) => a.duplicate === false);
    expect(firsts).toHaveLength(1);
    const { conversationId, messageId, replyId } = firsts[0];
    expect(acks).toEqual(
      acks.map((a) => ({
        ok: true,
        conversationId,
        messageId,
        replyId,
        duplicate: a !== firsts[0],
      })),
    );
    for (const client of [...onA, ...onB]) {
      const seen = await client.collectReply(replyId);
      expect(seen.done).toMatchObject({ status: 'complete', content: TEXT });
      expect(client.of('chat:message').map((m) => m.message.id)).toEqual([messageId]);
    }
    expect(fake.requests).toHaveLength(1);
    const stored = await storedMessages(nodeB.url, ownToken, conversationId);
    expect(stored.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Hola desde dos nodos'],
      ['assistant', TEXT],
    ]);
    const listed = await request<{ data: { id: string }[] }>(`${nodeA.url}/api/conversations`, {
      headers: bearer(ownToken),
    });
    expect(listed.body.data.map((c) => c.id)).toEqual([conversationId]);
  });

  it('stops a generation running on node A with chat:abort sent to node B', async () => {
    fake.enqueue({ chunks: [...WORDS, ...WORDS, ...WORDS], tokenDelayMs: 60 });
    const onA = await connectSocketIo(nodeA.url, { token });
    const onB = await connectWs(nodeB.url, { token });
    const ack = await onA.request('chat:send', send('Contá mucho'));
    const [upstream] = await fake.waitForRequests(1);
    await onB.next('chat:delta', (d) => d.seq === 2);

    const abortedAt = Date.now();
    expect(await onB.request('chat:abort', { replyId: ack.replyId })).toEqual({
      ok: true,
      status: 'aborted',
    });
    const end = await fake.waitForEnd(upstream, 1000);
    expect(end.how).toBe('client-closed');
    expect(end.at - abortedAt).toBeLessThan(1000);

    const reply = await onA.collectReply(ack.replyId);
    expect(reply.done).toMatchObject({ status: 'aborted', content: reply.text });
    expect(reply.deltas.length).toBeLessThan(WORDS.length * 3);
    expect((await onB.collectReply(ack.replyId)).text).toBe(reply.text);
    const stored = await storedMessages(nodeB.url, token, ack.conversationId);
    expect(stored[1]).toEqual(reply.done);
  });

  it('resumes on node B a reply generated on node A, mid-stream and after it ended', async () => {
    const chunks = Array.from({ length: 60 }, (_, i) => ` palabra${i + 1}`);
    fake.enqueue({ chunks, tokenDelayMs: 10 });
    const onA = await connectSocketIo(nodeA.url, { token });
    const ack = await onA.request('chat:send', send('Contá hasta sesenta'));
    await onA.next('chat:delta', (d) => d.seq === 5);
    onA.close();
    const lastSeen = Math.max(...onA.of('chat:delta').map((d) => d.seq));

    // The phone comes back through the load balancer, on the other node, while deltas keep coming.
    const onB = await connectSocketIo(nodeB.url, { token });
    const resumed = await onB.request('chat:resume', { replyId: ack.replyId, afterSeq: lastSeen });
    expect(resumed).toEqual({ ok: true, status: 'streaming', lastSeq: expect.any(Number) });
    const rest = await onB.collectReply(ack.replyId);
    expect(rest.deltas.map((d) => d.seq)).toEqual(
      Array.from({ length: chunks.length - lastSeen }, (_, i) => lastSeen + 1 + i),
    );
    expect(
      onA
        .of('chat:delta')
        .map((d) => d.text)
        .join('') + rest.text,
    ).toBe(chunks.join(''));
    expect(rest.done).toMatchObject({ status: 'complete', content: chunks.join('') });

    const later = await connectWs(nodeB.url, { token });
    expect(await later.request('chat:resume', { replyId: ack.replyId, afterSeq: 58 })).toEqual({
      ok: true,
      status: 'complete',
      lastSeq: 60,
    });
    const tail = await later.collectReply(ack.replyId);
    expect(tail.deltas.map((d) => d.seq)).toEqual([59, 60]);
    expect(tail.done).toEqual(rest.done);
  });
});
