import { randomUUID } from 'node:crypto';
import {
  chatSuite,
  connectSocketIo,
  connectWs,
  SocketIoClient,
  storedMessages,
  WsClient,
  type ChatClient,
} from '../support/chat-clients';
import { storageSetups } from '../support/test-app';
import { newUserId, signToken } from '../support/tokens';

const WINDOW_MS = 30;
const MAX_CHARS = 8;
/** About 60 one-character upstream chunks, as a fast model streaming short tokens would send. */
const LETTERS = Array.from('La respuesta llega de a una letra y sale en pocos deltas, igual.');

const send = (content: string) => ({ clientMessageId: randomUUID(), content });

/** `performance.now()` when each chat:delta reached `client`, by seq (same clock as the fake LLM's). */
function arrivalTimes(client: ChatClient): Map<number, number> {
  const times = new Map<number, number>();
  const stamp = (event: string, data: { seq: number }) => {
    if (event === 'chat:delta' && !times.has(data.seq)) times.set(data.seq, performance.now());
  };
  if (client instanceof SocketIoClient) client.socket.onAny(stamp);
  if (client instanceof WsClient)
    client.ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { type: string; data: { seq: number } };
      stamp(frame.type, frame.data);
    });
  return times;
}

const seqsFrom = (first: number, count: number) =>
  Array.from({ length: count }, (_, i) => first + i);

/**
 * Coalesced deltas (CHAT_COALESCE_MS, CHAT_COALESCE_MAX_CHARS): fewer events than upstream chunks,
 * the first one never held back, the same text, and resume still exact. The other chat suites run
 * with coalescing off.
 */
describe.each(storageSetups())('Delta coalescing [$name]', (setup) => {
  describe(`within a ${WINDOW_MS} ms window`, () => {
    const suite = chatSuite(setup, { CHAT_COALESCE_MS: String(WINDOW_MS) });
    const { fake } = suite;

    it('sends fewer deltas than upstream chunks, with contiguous seqs and the stored text', async () => {
      const token = signToken(newUserId());
      const phone = await connectSocketIo(suite.app.url, { token });
      const laptop = await connectWs(suite.app.url, { token });
      fake.enqueue({ chunks: LETTERS, tokenDelayMs: 1 });

      const ack = await phone.request('chat:send', send('Escribí de a una letra'));
      const reply = await phone.collectReply(ack.replyId);

      expect(reply.deltas.length).toBeLessThan(LETTERS.length / 2);
      expect(reply.deltas.map((d) => d.seq)).toEqual(seqsFrom(1, reply.deltas.length));
      expect(reply.text).toBe(LETTERS.join(''));
      expect(reply.done).toMatchObject({ status: 'complete', content: LETTERS.join('') });
      const stored = await storedMessages(suite.app.url, token, ack.conversationId);
      expect(stored[1]).toEqual(reply.done);
      // Both transports carry the very same coalesced deltas.
      expect((await laptop.collectReply(ack.replyId)).deltas).toEqual(reply.deltas);
    });

    it('sends the first delta as soon as the upstream sends its first chunk, not when the window closes', async () => {
      const token = signToken(newUserId());
      const phone = await connectSocketIo(suite.app.url, { token });
      const arrived = arrivalTimes(phone);
      // The first token comes after a pause, as from a real model, then the rest in quick succession.
      fake.enqueue({ chunks: LETTERS, firstTokenDelayMs: 100, tokenDelayMs: 2 });

      const ack = await phone.request('chat:send', send('¿Y la primera letra?'));
      const reply = await phone.collectReply(ack.replyId);
      const [upstream] = fake.requests;

      // Nothing was joined to the first chunk: it went out alone, at once...
      expect(reply.deltas[0]).toMatchObject({ seq: 1, text: LETTERS[0] });
      expect(arrived.get(1)! - upstream.timing.chunks[0].at).toBeLessThan(WINDOW_MS);
      // ...and what followed within the window was joined.
      expect(reply.deltas[1].text.length).toBeGreaterThan(1);
      expect(reply.text).toBe(LETTERS.join(''));
    });

    it('resumes a coalesced reply mid-stream with exactly the deltas after the last one seen', async () => {
      const token = signToken(newUserId());
      const phone = await connectSocketIo(suite.app.url, { token });
      // A second device that stays connected sees the whole reply as it was sent.
      const laptop = await connectWs(suite.app.url, { token });
      const chunks = Array.from({ length: 80 }, (_, i) =>
        i % 4 === 0 ? ` p${i}` : String(i % 10),
      );
      fake.enqueue({ chunks, tokenDelayMs: 5 });

      const ack = await phone.request('chat:send', send('Contá largo'));
      await phone.next('chat:delta', (d) => d.seq === 2);
      phone.close();
      const seenBefore = phone.of('chat:delta');
      const lastSeen = Math.max(...seenBefore.map((d) => d.seq));

      const back = await connectSocketIo(suite.app.url, { token });
      expect(
        await back.request('chat:resume', { replyId: ack.replyId, afterSeq: lastSeen }),
      ).toEqual({ ok: true, status: 'streaming', lastSeq: expect.any(Number) });
      const rest = await back.collectReply(ack.replyId);
      const whole = await laptop.collectReply(ack.replyId);

      expect(whole.deltas.length).toBeLessThan(chunks.length / 2);
      expect(rest.deltas).toEqual(whole.deltas.filter((d) => d.seq > lastSeen));
      expect(rest.deltas.map((d) => d.seq)).toEqual(
        seqsFrom(lastSeen + 1, whole.deltas.length - lastSeen),
      );
      expect(seenBefore.map((d) => d.text).join('') + rest.text).toBe(chunks.join(''));
      expect(rest.done).toMatchObject({ status: 'complete', content: chunks.join('') });
    });
  });

  describe(`with CHAT_COALESCE_MAX_CHARS=${MAX_CHARS}`, () => {
    const suite = chatSuite(setup, {
      CHAT_COALESCE_MS: String(WINDOW_MS),
      CHAT_COALESCE_MAX_CHARS: String(MAX_CHARS),
    });
    const { fake } = suite;

    it(`sends no delta over ${MAX_CHARS} characters, except an upstream chunk that was longer by itself`, async () => {
      const token = signToken(newUserId());
      const phone = await connectSocketIo(suite.app.url, { token });
      const long = [' extraordinariamente', ' inconmensurable'];
      // Chunks of 1 to 3 characters, and two that alone exceed the cap.
      const chunks = Array.from({ length: 60 }, (_, i) => 'abc'.slice(0, 1 + (i % 3)));
      chunks.splice(20, 0, long[0]);
      chunks.splice(45, 0, long[1]);
      fake.enqueue({ chunks, tokenDelayMs: 1 });

      const ack = await phone.request('chat:send', send('Palabras largas y cortas'));
      const reply = await phone.collectReply(ack.replyId);

      // A long chunk may go out whole or in pieces, but never with other text joined to it.
      const overCap = reply.deltas
        .map((d) => d.text)
        .filter((text) => text.length > MAX_CHARS && !long.includes(text));
      expect(overCap).toEqual([]);
      expect(reply.deltas.length).toBeLessThan(chunks.length);
      expect(reply.deltas.map((d) => d.seq)).toEqual(seqsFrom(1, reply.deltas.length));
      expect(reply.text).toBe(chunks.join(''));
      expect(reply.done).toMatchObject({ status: 'complete', content: chunks.join('') });
    });
  });
});
