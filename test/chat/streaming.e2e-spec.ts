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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CHUNKS = ['Hola', ', ¿en', ' qué', ' te', ' ayudo', ' hoy?'];

/** A send, its events in order and the stored exchange: what a chat screen shows. */
describe.each(storageSetups())('Streaming a reply [$name]', (setup) => {
  const suite = chatSuite(setup);
  const { fake } = suite;
  const user = newUserId();
  const token = signToken(user);

  /** Sends, then checks the whole life of the reply on `client` and in the stored history. */
  async function expectStreamedReply(client: ChatClient): Promise<void> {
    fake.enqueue({ chunks: CHUNKS, usage: { prompt_tokens: 31, completion_tokens: 6 } });
    const clientMessageId = randomUUID();

    const ack = await client.request('chat:send', { clientMessageId, content: '  Hola  ' });
    expect(ack).toEqual({
      ok: true,
      conversationId: expect.stringMatching(UUID),
      messageId: expect.stringMatching(UUID),
      replyId: expect.stringMatching(UUID),
      duplicate: false,
    });
    const { conversationId, messageId, replyId } = ack;
    const reply = await client.collectReply(replyId);
    await client.next('typing', (t) => t.replyId === replyId && !t.isTyping);

    // typing on, the deltas, chat:done, typing off: in this order and nothing else for the reply.
    const timeline = client.received
      .filter((r) => r.data?.replyId === replyId)
      .map((r) => (r.event === 'typing' ? `typing:${r.data.isTyping}` : r.event));
    expect(timeline).toEqual([
      'typing:true',
      ...CHUNKS.map(() => 'chat:delta'),
      'chat:done',
      'typing:false',
    ]);
    expect(client.of('typing')[0]).toEqual({
      conversationId,
      actor: 'assistant',
      replyId,
      isTyping: true,
    });
    expect(reply.deltas.map((d) => d.seq)).toEqual(CHUNKS.map((_, i) => i + 1));
    expect(reply.deltas.every((d) => d.conversationId === conversationId)).toBe(true);
    expect(reply.text).toBe(CHUNKS.join(''));
    expect(reply.done).toEqual({
      id: replyId,
      conversationId,
      role: 'assistant',
      content: CHUNKS.join(''),
      status: 'complete',
      model: 'fake-model',
      finishReason: 'stop',
      usage: { promptTokens: 31, completionTokens: 6, totalTokens: 37, estimated: false },
      createdAt: expect.any(String),
    });

    // The user's own message, trimmed, reaches their sockets and went upstream as the last turn.
    expect(client.of('chat:message')).toEqual([
      {
        conversationId,
        message: expect.objectContaining({
          id: messageId,
          role: 'user',
          content: 'Hola',
          status: 'complete',
          clientMessageId,
        }),
      },
    ]);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].messages.at(-1)).toEqual({ role: 'user', content: 'Hola' });

    const stored = await storedMessages(suite.app.url, token, conversationId);
    expect(stored.map((m) => [m.id, m.role, m.status, m.content])).toEqual([
      [messageId, 'user', 'complete', 'Hola'],
      [replyId, 'assistant', 'complete', CHUNKS.join('')],
    ]);
    expect(stored[1]).toEqual(reply.done);
  }

  it('over Socket.IO: ack, typing, contiguous deltas, chat:done, typing off, stored', async () => {
    await expectStreamedReply(await connectSocketIo(suite.app.url, { token }));
  });

  it('over /ws authenticated by the Authorization header', async () => {
    await expectStreamedReply(await connectWs(suite.app.url, { token }));
  });

  it('over /ws authenticated by a first auth frame', async () => {
    await expectStreamedReply(await connectWs(suite.app.url, { authFrame: token }));
  });

  it('continues a conversation: the next send carries the earlier turns upstream', async () => {
    const client = await connectSocketIo(suite.app.url, { token });
    fake.enqueue({ text: 'First answer' }, { text: 'Second answer' });
    const first = await client.request('chat:send', {
      clientMessageId: randomUUID(),
      content: 'First question',
    });
    await client.collectReply(first.replyId);

    const second = await client.request('chat:send', {
      conversationId: first.conversationId,
      clientMessageId: randomUUID(),
      content: 'Second question',
    });
    expect(second).toMatchObject({ ok: true, conversationId: first.conversationId });
    expect((await client.collectReply(second.replyId)).done?.content).toBe('Second answer');

    expect(fake.requests[1].messages.filter((m) => m.role !== 'system')).toEqual([
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: 'First answer' },
      { role: 'user', content: 'Second question' },
    ]);
    const stored = await storedMessages(suite.app.url, token, first.conversationId);
    expect(stored.map((m) => m.content)).toEqual([
      'First question',
      'First answer',
      'Second question',
      'Second answer',
    ]);
  });

  describe('when the model fails', () => {
    it('answering 500 on every attempt: chat:error upstream_error, typing off, stored as failed', async () => {
      fake.setDefault({ status: 500 });
      const client = await connectSocketIo(suite.app.url, { token });

      const ack = await client.request('chat:send', {
        clientMessageId: randomUUID(),
        content: 'Hola',
      });
      expect(ack.ok).toBe(true);
      const reply = await client.collectReply(ack.replyId);
      await client.next('typing', (t) => t.replyId === ack.replyId && !t.isTyping);

      expect(reply.deltas).toEqual([]);
      expect(reply.done).toBeUndefined();
      expect(reply.error).toEqual({
        code: 'upstream_error',
        message: expect.any(String),
        details: { type: 'server_error', originalMessage: 'The server had an error' },
      });
      expect(client.of('chat:error')).toEqual([
        { conversationId: ack.conversationId, replyId: ack.replyId, error: reply.error },
      ]);
      const stored = await storedMessages(suite.app.url, token, ack.conversationId);
      expect(stored[1]).toMatchObject({ id: ack.replyId, status: 'failed', content: '' });
    });

    it('dropping the connection mid-stream: the partial reply is stored as failed', async () => {
      fake.enqueue({ chunks: ['Uno', ' dos', ' tres', ' cuatro'], dropAfterChunks: 2 });
      const client = await connectWs(suite.app.url, { token });

      const ack = await client.request('chat:send', {
        clientMessageId: randomUUID(),
        content: 'Cuenta',
      });
      const reply = await client.collectReply(ack.replyId);
      await client.next('typing', (t) => t.replyId === ack.replyId && !t.isTyping);

      expect(reply.deltas.map((d) => [d.seq, d.text])).toEqual([
        [1, 'Uno'],
        [2, ' dos'],
      ]);
      expect(reply.error?.code).toMatch(/^upstream_/);
      const stored = await storedMessages(suite.app.url, token, ack.conversationId);
      expect(stored[1]).toMatchObject({ id: ack.replyId, status: 'failed', content: 'Uno dos' });
      // A half-streamed answer is never replayed from the start.
      expect(fake.requests).toHaveLength(1);
    });
  });
});
