import { randomUUID } from 'node:crypto';
import { chatSuite, connectSocketIo } from '../support/chat-clients';
import { storageSetups } from '../support/test-app';
import { newUserId, signToken } from '../support/tokens';

/** Scoring runs beside the stream: the sentiment arrives mid-reply and chat:done is not held for it. */
describe.each(storageSetups())('Sentiment of a message sent over a socket [$name]', (setup) => {
  const suite = chatSuite(setup);

  it('arrives while the reply still streams, before chat:done', async () => {
    const client = await connectSocketIo(suite.app.url, { token: signToken(newUserId()) });
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
  });
});
