import { randomUUID } from 'node:crypto';
import {
  chatSuite,
  connectSocketIo,
  connectWs,
  type ChatClient,
  type WsClient,
} from '../support/chat-clients';
import { storageSetups } from '../support/test-app';
import { newUserId, signToken } from '../support/tokens';

const OVER_64_KB = 70 * 1024;
const CLOSE_MESSAGE_TOO_BIG = 1009;

/** Bad frames and payloads are refused with `bad_request` and details; the connection goes on. */
describe.each(storageSetups())('Bad input on the sockets [$name]', (setup) => {
  const suite = chatSuite(setup, {}, { text: 'Todo bien' });
  const { fake } = suite;
  const token = signToken(newUserId());

  /** A normal send on the same connection still gets its whole reply. */
  async function expectStillWorks(client: ChatClient): Promise<void> {
    const ack = await client.request('chat:send', {
      clientMessageId: randomUUID(),
      content: 'Hola',
    });
    expect(ack).toMatchObject({ ok: true });
    expect((await client.collectReply(ack.replyId)).done?.content).toBe('Todo bien');
  }

  const badRequest = (details?: unknown) => ({
    code: 'bad_request',
    message: expect.any(String),
    ...(details !== undefined && { details }),
  });

  describe('over /ws', () => {
    let ws: WsClient;
    beforeEach(async () => {
      ws = await connectWs(suite.app.url, { token });
    });

    /** The next error frame after what has been received so far. */
    const nextError = async (client: WsClient) => {
      const seen = client.of('error').length;
      return client.until(() => client.of('error')[seen], 3000, 'an error frame');
    };

    it.each([
      ['not JSON', '{"type": "chat:send", '],
      ['JSON that is not an object', '[1, 2, 3]'],
      ['no type', JSON.stringify({ data: {} })],
      ['an unknown frame field', JSON.stringify({ type: 'chat:send', data: {}, extra: 1 })],
      ['an unknown type', JSON.stringify({ type: 'chat:explode', data: {} })],
      ['a bad payload and no id', JSON.stringify({ type: 'chat:send', data: { content: 42 } })],
      ['a bad typing payload', JSON.stringify({ type: 'typing', data: { isTyping: 'yes' } })],
    ])('%s gets an error frame, and the connection stays open', async (_, raw) => {
      const error = nextError(ws);
      ws.send(raw);
      expect(await error).toMatchObject({ code: 'bad_request', message: expect.any(String) });
      expect(ws.isOpen).toBe(true);
      await expectStillWorks(ws);
      expect(fake.requests).toHaveLength(1);
    });

    it.each([
      ['wrong types', { clientMessageId: 7, content: ['hola'] }, ['clientMessageId', 'content']],
      ['missing fields', { conversationId: randomUUID() }, ['clientMessageId', 'content']],
      ['an unknown field', { clientMessageId: 'a', content: 'hola', role: 'system' }, ['role']],
      [
        'a non-UUID conversationId',
        { conversationId: 'x', clientMessageId: 'a', content: 'hi' },
        ['conversationId'],
      ],
    ])('a chat:send with %s acks ok:false with field details', async (_, data, fields) => {
      const ack = await ws.request('chat:send', data);
      expect(ack).toEqual({ ok: false, error: badRequest(expect.any(Array)) });
      expect(ack.error.details.map((d: { field: string }) => d.field).sort()).toEqual(fields);
      await expectStillWorks(ws);
      expect(fake.requests).toHaveLength(1);
    });

    it.each([
      ['content over 4000 characters', { content: 'y'.repeat(4001) }, ['content']],
      ['context over 8 KB', { content: 'hola', context: { note: 'z'.repeat(8182) } }, ['context']],
    ])(
      'a chat:send with %s is refused before the LLM; other connections go on',
      async (_, data, fields) => {
        const other = await connectWs(suite.app.url, { token });
        const ack = await ws.request('chat:send', { clientMessageId: randomUUID(), ...data });
        expect(ack).toEqual({ ok: false, error: badRequest(expect.any(Array)) });
        expect(ack.error.details.map((d: { field: string }) => d.field)).toEqual(fields);
        expect(fake.requests).toHaveLength(0);
        await expectStillWorks(other);
        await expectStillWorks(ws);
      },
    );

    it('a __proto__ key in data is refused, not merged into the payload', async () => {
      const raw =
        '{"type":"chat:send","id":"p1","data":{"__proto__":{"conversationId":"00000000-0000-4000-8000-000000000000"},"clientMessageId":"proto","content":"hola"}}';
      ws.send(raw);
      const ack = await ws.until(
        () => ws.frames.find((f) => f.type === 'ack' && f.id === 'p1'),
        3000,
        'the ack',
      );
      expect(ack.data).toEqual({ ok: false, error: badRequest(expect.any(Array)) });
      expect(ack.data.error.details[0].field).toContain('__proto__');
      expect(({} as Record<string, unknown>).conversationId).toBeUndefined();
      await expectStillWorks(ws);
      expect(fake.requests).toHaveLength(1);
    });

    it('an unknown type with an id acks ok:false', async () => {
      expect(await ws.request('chat:explode', {})).toEqual({ ok: false, error: badRequest() });
    });

    it('a frame over 64 KB closes only that connection (1009)', async () => {
      const other = await connectWs(suite.app.url, { token });
      ws.send({
        type: 'chat:send',
        id: 'big',
        data: { clientMessageId: 'big', content: 'x'.repeat(OVER_64_KB) },
      });
      expect((await ws.closed).code).toBe(CLOSE_MESSAGE_TOO_BIG);
      expect(other.isOpen).toBe(true);
      await expectStillWorks(other);
    });
  });

  describe('over Socket.IO', () => {
    it.each([
      ['no payload', undefined, ['(root)']],
      ['wrong types', { clientMessageId: 7, content: 'hola' }, ['clientMessageId']],
      ['only whitespace', { clientMessageId: 'a', content: '   \n ' }, ['content']],
      [
        'content over 4000 characters',
        { clientMessageId: 'a', content: 'y'.repeat(4001) },
        ['content'],
      ],
      [
        'context over 8 KB',
        { clientMessageId: 'a', content: 'hola', context: { note: 'z'.repeat(8182) } },
        ['context'],
      ],
      [
        'a context that is not an object',
        { clientMessageId: 'a', content: 'hola', context: [1] },
        ['context'],
      ],
    ])('a chat:send with %s acks bad_request with details', async (_, data, fields) => {
      const client = await connectSocketIo(suite.app.url, { token });
      const ack = await client.request('chat:send', data);
      expect(ack).toEqual({ ok: false, error: badRequest(expect.any(Array)) });
      expect(ack.error.details.map((d: { field: string }) => d.field)).toEqual(fields);
      await expectStillWorks(client);
      expect(fake.requests).toHaveLength(1);
    });

    it('accepts content of exactly 4000 characters and 8 KB of context', async () => {
      const client = await connectSocketIo(suite.app.url, { token });
      const context = { note: 'z'.repeat(8181) };
      expect(Buffer.byteLength(JSON.stringify(context))).toBe(8192);
      const ack = await client.request('chat:send', {
        clientMessageId: randomUUID(),
        content: 'y'.repeat(4000),
        context,
      });
      expect(ack.ok).toBe(true);
      expect((await client.collectReply(ack.replyId)).done?.status).toBe('complete');
      expect(fake.requests[0].messages.at(-1)?.content).toBe('y'.repeat(4000));
      expect(fake.requests[0].messages[0].content).toContain('z'.repeat(8181));
    });

    it('a packet over 64 KB disconnects only that socket', async () => {
      const sender = await connectSocketIo(suite.app.url, { token });
      const other = await connectSocketIo(suite.app.url, { token });
      sender.emit('chat:send', { clientMessageId: 'big', content: 'x'.repeat(OVER_64_KB) });
      await sender.disconnected();
      expect(other.socket.connected).toBe(true);
      await expectStillWorks(other);
    });
  });
});
