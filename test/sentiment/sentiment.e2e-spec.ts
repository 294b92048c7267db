import {
  SENTIMENT_TIMELINE_LIMIT,
  type ConversationSentiment,
  type MessageDto,
  type ServerToClientEvents,
} from '@charla/contracts';
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { DataSource } from 'typeorm';
import { MessageEntity } from '../../src/conversations/message.entity';
import { SentimentScorer } from '../../src/sentiment/sentiment.scorer';
import { FakeLlm } from '../support/fake-llm';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

type SentimentEvent = Parameters<ServerToClientEvents['sentiment']>[0];

const MISSING_ID = '00000000-0000-4000-8000-000000000000';
const WAIT_MS = 5000;

/** Sentiment of texts and of stored messages: scored off the hot path, stored, pushed, aggregated. */
describe.each(storageSetups())('Sentiment [$name]', (setup) => {
  let app: TestApp;
  let dataSource: DataSource;
  const fake = new FakeLlm();
  const alice = newUserId('alice');
  const asAlice = bearer(signToken(alice));
  const asBob = bearer(signToken(newUserId('bob')));
  const asAdmin = bearer(signToken(newUserId('admin'), { admin: true }));
  const sockets: Socket[] = [];

  beforeAll(async () => {
    await fake.start();
    app = await startApp({
      ...setup.env(),
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'test',
      LLM_MODEL: 'fake-model',
    });
    dataSource = app.app.get(DataSource);
  });
  afterAll(async () => {
    await app.close();
    await fake.stop();
    removeDataDir(app.env);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  const api = (path: string) => `${app.url}/api${path}`;
  const analyze = (body: unknown, headers = asAlice) =>
    request(api('/chat/analyze-sentiment'), { headers, body });
  const createConversation = async () => {
    const res = await request(api('/conversations'), { headers: asAlice, body: {} });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  /** Stores user messages the way the chat path does, oldest first. */
  const storeUserMessages = async (conversationId: string, contents: string[]) => {
    const rows = contents.map((content) => ({
      id: randomUUID(),
      conversationId,
      userId: alice,
      role: 'user' as const,
      content,
      status: 'complete' as const,
    }));
    for (const row of rows) await dataSource.getRepository(MessageEntity).insert(row);
    return rows.map((r) => ({
      messageId: r.id,
      conversationId,
      userId: alice,
      content: r.content,
    }));
  };
  const conversationSentiment = (id: string, headers = asAlice) =>
    request<ConversationSentiment>(api(`/conversations/${id}/sentiment`), { headers });
  /** Polls until the conversation has `count` scored messages; bounded in time. */
  const scoredCount = async (id: string, count: number) => {
    const deadline = Date.now() + WAIT_MS;
    let body = (await conversationSentiment(id)).body;
    while (body.aggregate.count < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      body = (await conversationSentiment(id)).body;
    }
    expect(body.aggregate.count).toBe(count);
    return body;
  };
  const connectOwner = async () => {
    const socket = io(`${app.url}/chat`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { token: signToken(alice) },
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const events: SentimentEvent[] = [];
    socket.on('sentiment', (data: SentimentEvent) => events.push(data));
    return events;
  };

  describe('POST /api/chat/analyze-sentiment', () => {
    it.each([
      ['Estoy preocupado por la caída del mercado', 'negative', 'es'],
      ['¡Me encanta este servicio, es excelente y muy útil!', 'positive', 'es'],
      ['I love how fast this is!', 'positive', 'en'],
      ['This is terrible, I hate it and I am very disappointed.', 'negative', 'en'],
      ['El informe trimestral se publica el lunes.', 'neutral', 'es'],
      ['What time does the market open on Monday?', 'neutral', 'en'],
    ])('%p → %s, %s', async (text, label, language) => {
      const res = await analyze({ text });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ label, language, score: expect.any(Number) });
      expect(Math.abs(res.body.score)).toBeLessThanOrEqual(1);
      if (label === 'negative') expect(res.body.score).toBeLessThan(0);
      if (label === 'positive') expect(res.body.score).toBeGreaterThan(0);
    });

    it.each([
      ['an empty text', { text: '   ' }, 'text'],
      ['a text over 4000 characters', { text: 'a'.repeat(4001) }, 'text'],
      ['a missing text', {}, 'text'],
      ['an unknown field', { text: 'hola', lang: 'es' }, 'lang'],
      ['a text that is not a string', { text: 42 }, 'text'],
    ])('refuses %s with 400 naming the field', async (_, body, field) => {
      const res = await analyze(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: 'bad_request',
        details: expect.arrayContaining([expect.objectContaining({ field })]),
      });
    });

    it('accepts 4000 characters and needs a token', async () => {
      expect((await analyze({ text: 'bien '.repeat(800) })).status).toBe(200);
      expect((await analyze({ text: 'hola' }, {})).status).toBe(401);
    });
  });

  describe('scoring stored messages', () => {
    it('stores each score, pushes a sentiment event to the owner and updates the aggregate', async () => {
      const conversationId = await createConversation();
      const events = await connectOwner();
      const empty = await conversationSentiment(conversationId);
      expect(empty.body).toEqual({
        conversationId,
        aggregate: { count: 0, mean: null, byLabel: { positive: 0, neutral: 0, negative: 0 } },
        timeline: [],
      });

      const jobs = await storeUserMessages(conversationId, [
        'Estoy preocupado por la caída del mercado',
        'I love how fast this is!',
        'El informe trimestral se publica el lunes.',
      ]);
      const scorer = app.app.get(SentimentScorer);
      for (const job of jobs) scorer.enqueue(job);

      const result = await scoredCount(conversationId, 3);
      expect(result.timeline.map((p) => [p.messageId, p.label])).toEqual([
        [jobs[0].messageId, 'negative'],
        [jobs[1].messageId, 'positive'],
        [jobs[2].messageId, 'neutral'],
      ]);
      expect(result.aggregate.byLabel).toEqual({ positive: 1, neutral: 1, negative: 1 });
      const scores = result.timeline.map((p) => p.score);
      const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
      expect(result.aggregate.mean).toBeCloseTo(mean, 3);
      for (const point of result.timeline) expect(Date.parse(point.createdAt)).not.toBeNaN();

      const deadline = Date.now() + WAIT_MS;
      while (events.length < 3 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      // Jobs are scored concurrently, so events may arrive in any order.
      const byMessage = (a: { messageId: string }, b: { messageId: string }) =>
        a.messageId.localeCompare(b.messageId);
      expect([...events].sort(byMessage)).toEqual(
        result.timeline
          .map((p) => ({
            conversationId,
            messageId: p.messageId,
            sentiment: { label: p.label, score: p.score },
          }))
          .sort(byMessage),
      );

      // The stored message carries it too, wherever history is read.
      const history = await request<{ data: MessageDto[] }>(
        api(`/conversations/${conversationId}/messages`),
        { headers: asAlice },
      );
      expect(history.body.data.find((m) => m.id === jobs[0].messageId)?.sentiment).toEqual({
        label: 'negative',
        score: result.timeline[0].score,
      });

      const more = await storeUserMessages(conversationId, ['Thanks, this is wonderful!']);
      scorer.enqueue(more[0]);
      const updated = await scoredCount(conversationId, 4);
      expect(updated.aggregate.byLabel).toEqual({ positive: 2, neutral: 1, negative: 1 });
      expect(updated.timeline.at(-1)).toMatchObject({
        messageId: more[0].messageId,
        label: 'positive',
      });
    });

    it('leaves assistant replies and unscored messages out of the aggregate', async () => {
      const conversationId = await createConversation();
      const replyId = randomUUID();
      await dataSource.getRepository(MessageEntity).insert({
        id: replyId,
        conversationId,
        userId: alice,
        role: 'assistant',
        content: 'I love helping!',
        status: 'complete',
      });
      const [terrible] = await storeUserMessages(conversationId, [
        'Terrible news today.',
        'Never scored: it was not enqueued.',
      ]);
      const scorer = app.app.get(SentimentScorer);
      // Only user messages carry sentiment, even if a reply is enqueued by mistake.
      scorer.enqueue({ ...terrible, messageId: replyId, content: 'I love helping!' });
      scorer.enqueue(terrible);
      await scorer.idle();

      const result = await conversationSentiment(conversationId);
      expect(result.body.aggregate).toEqual({
        count: 1,
        mean: result.body.timeline[0].score,
        byLabel: { positive: 0, neutral: 0, negative: 1 },
      });
      expect(result.body.timeline.map((p) => p.messageId)).toEqual([terrible.messageId]);
    });

    it('scores every user message sent through the chat, off the hot path', async () => {
      const events = await connectOwner();
      fake.enqueue({ text: 'Entiendo tu preocupación.' });
      const res = await request(api('/chat'), {
        headers: asAlice,
        body: { message: 'Estoy muy triste, perdí mucho dinero', sessionId: randomUUID() },
      });
      expect(res.status).toBe(200);
      const { conversationId, messageId } = res.body.metadata;
      const result = await scoredCount(conversationId, 1);
      expect(result.timeline).toEqual([expect.objectContaining({ messageId, label: 'negative' })]);
      const deadline = Date.now() + WAIT_MS;
      while (!events.some((e) => e.messageId === messageId) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(events).toContainEqual({
        conversationId,
        messageId,
        sentiment: { label: 'negative', score: result.timeline[0].score },
      });
    });
  });

  describe('GET /api/conversations/:id/sentiment', () => {
    it("answers another user's conversation exactly like a missing one, and lets an admin read it", async () => {
      const conversationId = await createConversation();
      const stranger = await conversationSentiment(conversationId, asBob);
      const missing = await conversationSentiment(MISSING_ID, asBob);
      expect(stranger.status).toBe(404);
      expect({ ...stranger.body, requestId: undefined }).toEqual({
        ...missing.body,
        requestId: undefined,
      });
      expect(missing.body).toMatchObject({ code: 'not_found' });

      const asDashboard = await conversationSentiment(conversationId, asAdmin);
      expect(asDashboard.status).toBe(200);
      expect(asDashboard.body.conversationId).toBe(conversationId);
      expect((await conversationSentiment('not-a-uuid')).status).toBe(400);
    });

    it(`lists the newest ${SENTIMENT_TIMELINE_LIMIT} scored messages, oldest first, and aggregates them all`, async () => {
      const conversationId = await createConversation();
      const total = SENTIMENT_TIMELINE_LIMIT + 10;
      await dataSource.query(
        `INSERT INTO messages (id, conversation_id, user_id, role, content, status, sentiment_label, sentiment_score)
         SELECT gen_random_uuid(), $1, $2, 'user', 'message ' || n, 'complete',
                CASE WHEN n % 2 = 0 THEN 'positive' ELSE 'negative' END,
                CASE WHEN n % 2 = 0 THEN 0.5 ELSE -0.5 END
           FROM generate_series(1, $3::int) n`,
        [conversationId, alice, total],
      );
      const ids: { id: string }[] = await dataSource.query(
        `SELECT id FROM messages WHERE conversation_id = $1 ORDER BY position`,
        [conversationId],
      );

      const { body } = await conversationSentiment(conversationId);
      expect(body.aggregate).toEqual({
        count: total,
        mean: 0,
        byLabel: { positive: total / 2, neutral: 0, negative: total / 2 },
      });
      expect(body.timeline.map((p) => p.messageId)).toEqual(
        ids.slice(-SENTIMENT_TIMELINE_LIMIT).map((r) => r.id),
      );
    });
  });
});
