import type { ConversationSentiment } from '@charla/contracts';
import { randomUUID } from 'node:crypto';
import { SentimentScorer } from '../../src/sentiment/sentiment.scorer';
import { chatSuite, connectSocketIo } from '../support/chat-clients';
import { request } from '../support/http';
import { storageSetups } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/**
 * Long messages queued for scoring before a send: each takes the scorer milliseconds of CPU, so
 * together they keep it busy for seconds, far longer than the reply the test streams.
 */
const BACKLOG = 250;
const LONG_MESSAGE = 'Estoy preocupado por la caída del mercado y no sé qué hacer. '
  .repeat(70)
  .slice(0, 4000);

/** Scoring runs beside the stream: the sentiment arrives mid-reply and chat:done is not held for it. */
describe.each(storageSetups())('Sentiment of a message sent over a socket [$name]', (setup) => {
  const suite = chatSuite(setup);

  const conversationSentiment = (conversationId: string, token: string) =>
    request<ConversationSentiment>(
      `${suite.app.url}/api/conversations/${conversationId}/sentiment`,
      {
        headers: bearer(token),
      },
    );

  it('arrives while the reply still streams, before chat:done, and enters the aggregate', async () => {
    const token = signToken(newUserId());
    const client = await connectSocketIo(suite.app.url, { token });
    suite.fake.enqueue({ text: 'uno dos tres cuatro cinco seis siete ocho', tokenDelayMs: 60 });
    const ack = await client.request('chat:send', {
      clientMessageId: randomUUID(),
      content: 'Estoy preocupado por la caída del mercado',
    });
    const sentiment = await client.next('sentiment', (s) => s.messageId === ack.messageId);
    expect(sentiment.sentiment.label).toBe('negative');

    const { done } = await client.collectReply(ack.replyId);
    expect(done?.status).toBe('complete');
    const order = client.received.map((r) => r.event);
    expect(order.indexOf('sentiment')).toBeLessThan(order.indexOf('chat:done'));
    expect(order.indexOf('sentiment')).toBeLessThan(order.lastIndexOf('chat:delta'));

    // The event is pushed once the score is stored: the aggregate already counts it.
    const first = await conversationSentiment(ack.conversationId, token);
    expect(first.body).toMatchObject({
      aggregate: { count: 1, byLabel: { positive: 0, neutral: 0, negative: 1 } },
      timeline: [{ messageId: ack.messageId, ...sentiment.sentiment }],
    });

    const next = await client.request('chat:send', {
      conversationId: ack.conversationId,
      clientMessageId: randomUUID(),
      content: '¡Me encanta este servicio, es excelente y muy útil!',
    });
    const happy = await client.next('sentiment', (s) => s.messageId === next.messageId);
    expect(happy.sentiment.label).toBe('positive');
    await client.collectReply(next.replyId);
    const second = await conversationSentiment(ack.conversationId, token);
    expect(second.body.aggregate).toEqual({
      count: 2,
      mean: expect.closeTo((sentiment.sentiment.score + happy.sentiment.score) / 2, 3),
      byLabel: { positive: 1, neutral: 0, negative: 1 },
    });
    expect(second.body.timeline.map((p) => p.messageId)).toEqual([ack.messageId, next.messageId]);
  });

  it('does not hold chat:done behind scoring that is slow', async () => {
    const scorer = suite.app.app.get(SentimentScorer);
    const client = await connectSocketIo(suite.app.url, { token: signToken(newUserId()) });
    // Messages whose rows do not exist: each is analyzed, then finds nothing to store or push.
    for (let i = 0; i < BACKLOG; i++) {
      scorer.enqueue({
        messageId: randomUUID(),
        conversationId: randomUUID(),
        userId: newUserId('backlog'),
        content: LONG_MESSAGE,
      });
    }
    let drainedAt: number | undefined;
    const drained = scorer.idle().then(() => (drainedAt = Date.now()));
    expect(drainedAt).toBeUndefined();

    suite.fake.enqueue({ text: 'uno dos tres cuatro', tokenDelayMs: 20 });
    const ack = await client.request('chat:send', {
      clientMessageId: randomUUID(),
      content: 'Estoy preocupado por la caída del mercado',
    });
    const { done } = await client.collectReply(ack.replyId, 10_000);
    expect(done?.status).toBe('complete');
    // Were scoring on the stream's path, chat:done would wait for all of it.
    expect(drainedAt).toBeUndefined();

    // The message's own score queued behind the backlog: it comes later, and still comes.
    const sentiment = await client.next('sentiment', (s) => s.messageId === ack.messageId, 20_000);
    expect(sentiment.sentiment.label).toBe('negative');
    const order = client.received.map((r) => r.event);
    expect(order.indexOf('chat:done')).toBeLessThan(order.indexOf('sentiment'));
    await drained;
  }, 30_000);
});
