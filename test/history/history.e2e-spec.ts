import type { ErrorBody, MessageDto, Page, RestChatResponse } from '@charla/contracts';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type Redis from 'ioredis';
import { ReplyBuffer } from '../../src/chat/generation/reply-buffer';
import { CacheStore } from '../../src/memory/cache.store';
import { ConversationMemory } from '../../src/memory/conversation-memory';
import { REDIS } from '../../src/memory/memory.module';
import { ConversationEntity } from '../../src/conversations/conversation.entity';
import { HistoryService } from '../../src/conversations/history.service';
import { MessageEntity } from '../../src/conversations/message.entity';
import { UserProfileEntity } from '../../src/conversations/user-profile.entity';
import { SUMMARY_INSTRUCTIONS } from '../../src/summary/summarizer';
import { insertMessages } from '../factories/message.factory';
import { chatSuite, connectSocketIo } from '../support/chat-clients';
import type { RecordedRequest } from '../support/fake-llm';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const BIG_HISTORY = 10_000;
const PAGE = 50;
const BATCH = 500;
/**
 * Rate-limit windows and the daily token quota are named by the user id but hold only a count, and
 * expire with their window or day; they outlive an erase on purpose, or erasing would reset them.
 */
const COUNTERS = /^charla:(rl|quota):/;
const MAX_SCAN_ROUNDS = 10_000;

interface User {
  id: string;
  token: string;
  headers: Record<string, string>;
}

/** What names a user anywhere: their id, their conversations and messages, and a marker in their texts. */
interface Trace {
  userId: string;
  marker: string;
  conversationIds: string[];
  messageIds: string[];
  replyIds: string[];
}

const isSummaryRequest = (r: RecordedRequest) =>
  r.messages[0]?.content.startsWith(SUMMARY_INSTRUCTIONS) ?? false;

const newUser = (): User => {
  const id = newUserId();
  const token = signToken(id);
  return { id, token, headers: bearer(token) };
};

/** Seed 003's per-user history: every message of a user across conversations, and its erasure. */
describe.each(storageSetups())('Per-user history [$name]', (setup) => {
  let app: TestApp;
  let dataSource: DataSource;
  const asAdmin = bearer(signToken(newUserId('admin'), { admin: true }));

  beforeAll(async () => {
    app = await startApp(setup.env());
    dataSource = app.app.get(DataSource);
  });
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  const api = (path: string) => `${app.url}/api${path}`;
  const createConversation = async (headers: Record<string, string>) => {
    const res = await request(api('/conversations'), { headers, body: {} });
    expect(res.status).toBe(201);
    return res.body as { id: string; userId: string };
  };
  const historyPage = (userId: string, headers: Record<string, string>, query = '') =>
    request<Page<MessageDto> & Partial<ErrorBody>>(
      api(`/chat/history/${encodeURIComponent(userId)}${query}`),
      { headers },
    );

  it("lists the user's messages across conversations, newest first, with status, usage and sentiment", async () => {
    const alice = newUser();
    const first = await createConversation(alice.headers);
    const second = await createConversation(alice.headers);
    const ids = [
      ...(await insertMessages(dataSource, first, 2)),
      ...(await insertMessages(dataSource, second, 2)),
      ...(await insertMessages(dataSource, first, 1)),
    ];
    await dataSource
      .getRepository(MessageEntity)
      .update({ id: ids[0] }, { sentimentLabel: 'positive', sentimentScore: 0.75 });
    await dataSource
      .getRepository(MessageEntity)
      .update(
        { id: ids[1] },
        { status: 'aborted', promptTokens: 12, completionTokens: 3, usageEstimated: true },
      );
    const someoneElse = newUser();
    await insertMessages(dataSource, await createConversation(someoneElse.headers), 3);

    const page = await historyPage(alice.id, alice.headers);
    expect(page.status).toBe(200);
    expect(page.body.nextCursor).toBeNull();
    expect(page.body.data.map((m) => m.id)).toEqual([...ids].reverse());
    expect(page.body.data.map((m) => m.conversationId)).toEqual([
      first.id,
      second.id,
      second.id,
      first.id,
      first.id,
    ]);
    const byId = new Map(page.body.data.map((m) => [m.id, m]));
    expect(byId.get(ids[0])).toMatchObject({
      role: 'user',
      status: 'complete',
      sentiment: { label: 'positive', score: 0.75 },
    });
    expect(byId.get(ids[1])).toMatchObject({
      role: 'assistant',
      status: 'aborted',
      usage: { promptTokens: 12, completionTokens: 3, totalTokens: 15, estimated: true },
    });
  });

  it("refuses another user's history with 403 and lets an admin read anyone's", async () => {
    const alice = newUser();
    const bob = newUser();
    await insertMessages(dataSource, await createConversation(alice.headers), 3);

    const refused = await historyPage(alice.id, bob.headers);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'forbidden', requestId: expect.any(String) });
    const erase = await request(api(`/chat/history/${alice.id}`), {
      method: 'DELETE',
      headers: bob.headers,
    });
    expect(erase.status).toBe(403);

    const asDashboard = await historyPage(alice.id, asAdmin);
    expect(asDashboard.status).toBe(200);
    expect(asDashboard.body.data).toHaveLength(3);
    expect((await historyPage(alice.id, {})).status).toBe(401);
  });

  it.each(['?limit=0', '?limit=101', '?limit=abc', '?before=!!!', '?before=bm9wZQ', '?extra=1'])(
    'refuses the bad query %s with 400 and field details',
    async (query) => {
      const alice = newUser();
      const res = await historyPage(alice.id, alice.headers, query);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: 'bad_request',
        details: expect.arrayContaining([expect.objectContaining({ field: expect.any(String) })]),
      });
    },
  );

  it('refuses a user id longer than any token subject', async () => {
    const res = await historyPage('u'.repeat(201), asAdmin);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('bad_request');
  });

  it("lets an admin erase a user's history", async () => {
    const carol = newUser();
    await insertMessages(dataSource, await createConversation(carol.headers), 2);
    const erased = await request(api(`/chat/history/${carol.id}`), {
      method: 'DELETE',
      headers: asAdmin,
    });
    expect(erased.status).toBe(204);
    expect((await historyPage(carol.id, carol.headers)).body.data).toEqual([]);
  });

  it('counts every history read, summaries included, against one per-user limit; erasing does not', async () => {
    const limit = 4;
    const limited = await startApp({ ...setup.env(), RATE_LIMIT_HISTORY: String(limit) });
    try {
      const carol = newUser();
      const at = (path: string) => `${limited.url}/api${path}`;
      const created = await request(at('/conversations'), { headers: carol.headers, body: {} });
      const conversation = created.body.id as string;
      // Every route the history limit guards, one budget between them.
      const reads = [
        `/chat/history/${carol.id}`,
        `/conversations/${conversation}/messages`,
        `/conversations/${conversation}/summary`,
        `/chat/summary/${carol.id}`,
      ];
      expect(reads).toHaveLength(limit);
      for (const [i, path] of reads.entries()) {
        const res = await request(at(path), { headers: carol.headers });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit-limit')).toBe(String(limit));
        expect(res.headers.get('ratelimit-remaining')).toBe(String(limit - i - 1));
      }
      const erased = await request(at(`/chat/history/${carol.id}`), {
        method: 'DELETE',
        headers: carol.headers,
      });
      expect(erased.status).toBe(204);
      for (const path of reads) {
        const refused = await request(at(path), { headers: carol.headers });
        expect(refused.status).toBe(429);
        expect(refused.body.code).toBe('rate_limited');
      }
      // Another user's budget is their own.
      const dave = newUser();
      expect(
        (await request(at(reads[0].replace(carol.id, dave.id)), { headers: dave.headers })).status,
      ).toBe(200);
    } finally {
      await limited.close();
      removeDataDir(limited.env);
    }
  });

  describe('erasing a user', () => {
    const suite = chatSuite(setup);
    const url = (path: string) => `${suite.app.url}/api${path}`;
    const get = (path: string, user: User) => request(url(path), { headers: user.headers });
    const erase = (user: User) =>
      request(url(`/chat/history/${user.id}`), { method: 'DELETE', headers: user.headers });
    /** One message over REST, waiting for its reply; `sessionId` names the conversation. */
    const chat = async (user: User, message: string, sessionId: string) => {
      const res = await request<RestChatResponse>(url('/chat'), {
        headers: user.headers,
        body: { message, sessionId },
      });
      expect(res.status).toBe(200);
      return res.body.metadata;
    };
    /** Everything that names the user, read from their history before it is erased. */
    const traceOf = async (user: User, marker: string): Promise<Trace> => {
      const page = await get(`/chat/history/${user.id}?limit=100`, user);
      expect(page.status).toBe(200);
      const messages = page.body.data as MessageDto[];
      return {
        userId: user.id,
        marker,
        conversationIds: [...new Set(messages.map((m) => m.conversationId))],
        messageIds: messages.map((m) => m.id),
        replyIds: messages.filter((m) => m.role === 'assistant').map((m) => m.id),
      };
    };
    /**
     * What is still kept of the user outside PostgreSQL, through the ports (both setups) and, on
     * Redis, every `charla:*` key whose name or content mentions them (counters excepted).
     */
    const leftovers = async (trace: Trace): Promise<string[]> => {
      const app = suite.app.app;
      const [cache, memory, buffers] = [
        app.get(CacheStore),
        app.get(ConversationMemory),
        app.get(ReplyBuffer),
      ];
      const left: string[] = [];
      for (const id of trace.conversationIds) {
        if (await cache.get(`charla:summary:${id}`)) left.push(`summary of ${id}`);
        if ((await memory.recall(id, trace.userId)).conversation) left.push(`memory of ${id}`);
      }
      if ((await memory.recall(randomUUID(), trace.userId)).profile)
        left.push(`profile of ${trace.userId}`);
      for (const id of trace.replyIds) if (await buffers.read(id, 0)) left.push(`buffer of ${id}`);
      const redis = app.get<Redis | null>(REDIS);
      if (redis) {
        const needles = [trace.userId, trace.marker, ...trace.conversationIds, ...trace.messageIds];
        left.push(...(await redisMentions(redis, needles)));
      }
      return left;
    };
    /** Everything a trace's user had cached, as `leftovers` names it. */
    const everything = (trace: Trace) => {
      const redisKeys = suite.app.app.get<Redis | null>(REDIS)
        ? ['summary', 'memory:conversation', 'memory:user', 'reply'].map((kind) =>
            expect.stringMatching(new RegExp(`^charla:${kind}:`)),
          )
        : [];
      return expect.arrayContaining([
        ...trace.conversationIds.flatMap((id) => [`summary of ${id}`, `memory of ${id}`]),
        `profile of ${trace.userId}`,
        ...trace.replyIds.map((id) => `buffer of ${id}`),
        ...redisKeys,
      ]);
    };

    it('leaves nothing of the user in PostgreSQL, memory, summaries or buffers, and touches nobody else', async () => {
      const [alice, bob] = [newUser(), newUser()];
      const [aliceMarker, bobMarker] = [`alice-${randomUUID()}`, `bob-${randomUUID()}`];
      for (const [user, name] of [
        [alice, 'Alicia'],
        [bob, 'Roberto'],
      ] as const) {
        const put = await request(url('/me/profile'), {
          method: 'PUT',
          headers: user.headers,
          body: { name },
        });
        expect(put.status).toBe(200);
      }
      const [savings, other] = [randomUUID(), randomUUID()];
      await chat(alice, `${aliceMarker} ¿Cómo ahorro este mes?`, savings);
      await chat(alice, `${aliceMarker} ¿Y en dólares?`, savings);
      await chat(alice, `${aliceMarker} Otra charla`, other);
      await chat(bob, `${bobMarker} Hello there`, randomUUID());
      const [aliceTrace, bobTrace] = [
        await traceOf(alice, aliceMarker),
        await traceOf(bob, bobMarker),
      ];
      expect(aliceTrace.conversationIds).toHaveLength(2);
      for (const id of aliceTrace.conversationIds)
        expect((await get(`/conversations/${id}/summary`, alice)).status).toBe(200);
      expect((await get(`/chat/summary/${alice.id}`, alice)).status).toBe(200);
      const bobSummary = await get(`/conversations/${bobTrace.conversationIds[0]}/summary`, bob);
      expect(bobSummary.status).toBe(200);
      // The check must see what is there, or its empty answer after the erase would prove nothing.
      expect(await leftovers(aliceTrace)).toEqual(everything(aliceTrace));
      const bobBefore = await leftovers(bobTrace);
      expect(bobBefore).toEqual(everything(bobTrace));
      const summaryCalls = suite.fake.requests.filter(isSummaryRequest).length;

      expect((await erase(alice)).status).toBe(204);

      expect(await leftovers(aliceTrace)).toEqual([]);
      const dataSource = suite.app.app.get(DataSource);
      for (const entity of [MessageEntity, ConversationEntity, UserProfileEntity])
        expect(await dataSource.getRepository(entity).countBy({ userId: alice.id })).toBe(0);
      expect((await get(`/chat/history/${alice.id}`, alice)).body).toEqual({
        data: [],
        nextCursor: null,
      });
      expect((await get('/me/profile', alice)).body).toEqual({ profile: {}, updatedAt: null });
      expect((await get(`/chat/summary/${alice.id}`, alice)).status).toBe(404);
      for (const id of aliceTrace.conversationIds) {
        expect((await get(`/conversations/${id}`, alice)).status).toBe(404);
        expect((await get(`/conversations/${id}/summary`, alice)).status).toBe(404);
      }

      expect(await leftovers(bobTrace)).toEqual(bobBefore);
      // Still Bob's cached summary: the same one, and no new model call.
      const bobAgain = await get(`/conversations/${bobTrace.conversationIds[0]}/summary`, bob);
      expect(bobAgain.body).toEqual(bobSummary.body);
      expect(suite.fake.requests.filter(isSummaryRequest)).toHaveLength(summaryCalls);
      expect((await get(`/chat/history/${bob.id}`, bob)).body.data).toHaveLength(2);
      expect((await get('/me/profile', bob)).body.profile).toEqual({ name: 'Roberto' });
      // Erasing again (or a user with no history) is harmless.
      expect((await erase(alice)).status).toBe(204);
    });

    const LONG_REPLY_WORDS = 60;
    /** A reply of three seconds unless something stops it, seen to stream (seq 3) before returning. */
    const startLongReply = async (user: User, marker: string) => {
      suite.fake.enqueue({
        text: Array.from({ length: LONG_REPLY_WORDS }, (_, i) => `w${i}`).join(' '),
        tokenDelayMs: 50,
      });
      const client = await connectSocketIo(suite.app.url, { token: user.token });
      const ack = await client.request('chat:send', {
        clientMessageId: randomUUID(),
        content: `${marker} Contame una historia larga`,
      });
      await client.next('chat:delta', (d) => d.replyId === ack.replyId && d.seq >= 3);
      /** Once stopped: fewer deltas than scripted, and the upstream request was closed by Charla. */
      const expectStopped = async () => {
        const seen = await client.collectReply(ack.replyId, 2000);
        expect(seen.deltas.length).toBeLessThan(LONG_REPLY_WORDS);
        const upstream = suite.fake.requests.find((r) =>
          r.messages.some((m) => m.content.includes(marker)),
        )!;
        expect((await suite.fake.waitForEnd(upstream)).how).toBe('client-closed');
      };
      return { ack, expectStopped };
    };
    /** `leftovers`, once the stopped reply has let go of what it held (bounded wait). */
    const settledLeftovers = async (trace: Trace): Promise<string[]> => {
      const deadline = Date.now() + 2000;
      let left = await leftovers(trace);
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        left = await leftovers(trace);
      }
      return left;
    };

    it('stops a reply that is streaming, and leaves nothing once it has ended', async () => {
      const alice = newUser();
      const marker = `alice-${randomUUID()}`;
      const { ack, expectStopped } = await startLongReply(alice, marker);
      const trace: Trace = {
        userId: alice.id,
        marker,
        conversationIds: [ack.conversationId],
        messageIds: [ack.messageId, ack.replyId],
        replyIds: [ack.replyId],
      };
      expect(await leftovers(trace)).toEqual(
        expect.arrayContaining([`memory of ${ack.conversationId}`, `buffer of ${ack.replyId}`]),
      );

      expect((await erase(alice)).status).toBe(204);

      await expectStopped();
      expect(await settledLeftovers(trace)).toEqual([]);
      expect(
        await suite.app.app.get(DataSource).getRepository(MessageEntity).countBy({
          userId: alice.id,
        }),
      ).toBe(0);
    });

    it('deletes one conversation the same way: its streaming reply stops, nothing of it is left, the rest stays', async () => {
      const alice = newUser();
      const marker = `alice-${randomUUID()}`;
      await chat(alice, 'Una conversación que se queda', `kept-${randomUUID()}`);
      const { ack, expectStopped } = await startLongReply(alice, marker);
      expect((await get(`/conversations/${ack.conversationId}/summary`, alice)).status).toBe(200);
      // What names this conversation; the user's id is left out, since their profile and other
      // conversation stay.
      const trace: Trace = {
        userId: `someone-else-${randomUUID()}`,
        marker,
        conversationIds: [ack.conversationId],
        messageIds: [ack.messageId, ack.replyId],
        replyIds: [ack.replyId],
      };
      expect(await leftovers(trace)).toEqual(
        expect.arrayContaining([`summary of ${ack.conversationId}`, `buffer of ${ack.replyId}`]),
      );

      const deleted = await request(url(`/conversations/${ack.conversationId}`), {
        method: 'DELETE',
        headers: alice.headers,
      });
      expect(deleted.status).toBe(204);

      await expectStopped();
      expect(await settledLeftovers(trace)).toEqual([]);
      expect((await get(`/conversations/${ack.conversationId}`, alice)).status).toBe(404);
      const remaining = (await get('/conversations', alice)).body.data as { id: string }[];
      expect(remaining).toHaveLength(1);
      expect(remaining[0].id).not.toBe(ack.conversationId);
    });

    it('leaves no summary behind when one was being generated during the erase', async () => {
      const alice = newUser();
      const marker = `alice-${randomUUID()}`;
      const sent = await chat(alice, `${marker} Hola`, randomUUID());
      const trace: Trace = {
        userId: alice.id,
        marker,
        conversationIds: [sent.conversationId],
        messageIds: [sent.messageId, sent.replyId],
        replyIds: [sent.replyId],
      };
      suite.fake.enqueue({ text: `Resumen de ${marker}`, firstTokenDelayMs: 500 });
      const summary = get(`/conversations/${sent.conversationId}/summary`, alice);
      const requests = await suite.fake.waitForRequests(2);
      expect(isSummaryRequest(requests[1])).toBe(true);

      expect((await erase(alice)).status).toBe(204);

      // Generated from what was read before the erase, written to the cache after it.
      expect((await summary).body.summary).toBe(`Resumen de ${marker}`);
      expect(await leftovers(trace)).toEqual([]);
    });
  });

  describe(`keyset paging over ${BIG_HISTORY} messages`, () => {
    const heavy = newUser();
    const othersPrefix = newUserId('background');
    let conversations: { id: string; userId: string }[];
    let stored: string[];

    beforeAll(async () => {
      conversations = [];
      for (let i = 0; i < 4; i++) conversations.push(await createConversation(heavy.headers));
      // Batches rotate through the user's conversations, and other users' messages land between
      // them, so the walk must skip rows and the planner sees a table the user is a sixth of.
      stored = [];
      for (let i = 0; i < BIG_HISTORY / BATCH; i++) {
        stored.push(
          ...(await insertMessages(dataSource, conversations[i % conversations.length], BATCH)),
        );
        await insertBackground(dataSource, `${othersPrefix}-${i}`, 5, BATCH);
      }
    }, 120_000);
    afterAll(async () => {
      // The PostgreSQL test database is shared by every run: leave it as small as it was.
      await dataSource.query(`DELETE FROM conversations WHERE user_id = $1 OR user_id LIKE $2`, [
        heavy.id,
        `${othersPrefix}-%`,
      ]);
    });

    it('walks every page with no duplicate and no gap while new messages keep arriving', async () => {
      const walked: string[] = [];
      const arrived: string[] = [];
      let cursor: string | null = null;
      const maxPages = BIG_HISTORY / PAGE + 1;
      for (let pages = 0; pages < maxPages; pages++) {
        const query: string = `?limit=${PAGE}${cursor ? `&before=${cursor}` : ''}`;
        const page = await historyPage(heavy.id, heavy.headers, query);
        expect(page.status).toBe(200);
        walked.push(...page.body.data.map((m) => m.id));
        cursor = page.body.nextCursor;
        if (!cursor) break;
        // A new message between pages: it belongs before the first page, never inside the walk.
        arrived.push(...(await insertMessages(dataSource, conversations[pages % 4], 1)));
      }

      expect(walked).toHaveLength(BIG_HISTORY);
      expect(new Set(walked).size).toBe(BIG_HISTORY);
      expect(walked).toEqual([...stored].reverse());

      const fresh = await historyPage(heavy.id, heavy.headers, `?limit=${PAGE}`);
      expect(fresh.body.data.map((m) => m.id)).toEqual([...arrived].reverse().slice(0, PAGE));
    }, 120_000);

    it('pages through the (user_id, position DESC) index, never a scan and sort', async () => {
      await dataSource.query('ANALYZE messages');
      const history = app.app.get(HistoryService);
      const midway = (
        await dataSource.getRepository(MessageEntity).findOneByOrFail({
          id: stored[BIG_HISTORY / 2],
        })
      ).position;
      // The first batch's background users have been quiet since: ~60k newer rows of others.
      const quiet = `${othersPrefix}-0-1`;
      for (const [userId, before] of [
        [heavy.id, undefined],
        [heavy.id, midway],
        [quiet, undefined],
      ] as const) {
        const [sql, params] = history.pageQuery(userId, PAGE + 1, before).getQueryAndParameters();
        const plan = (await dataSource.query(`EXPLAIN ${sql}`, params))
          .map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN'])
          .join('\n');
        expect(plan).toMatch(/Index (Only )?Scan using messages_user_position on messages/);
        expect(plan).not.toMatch(/Seq Scan|Sort/);
      }
    });
  });
});

/** `perUser` messages for each of `users` other users, in one INSERT … SELECT generate_series. */
async function insertBackground(
  dataSource: DataSource,
  prefix: string,
  users: number,
  perUser: number,
): Promise<void> {
  await dataSource.query(
    `WITH owners AS (
       INSERT INTO conversations (id, user_id, persona)
       SELECT gen_random_uuid(), $1 || '-' || u, 'default' FROM generate_series(1, $2::int) u
       RETURNING id, user_id
     )
     INSERT INTO messages (id, conversation_id, user_id, role, content, status)
     SELECT gen_random_uuid(), o.id, o.user_id, 'user', 'background ' || n, 'complete'
       FROM owners o, generate_series(1, $3::int) n`,
    [prefix, users, perUser],
  );
}

/** Every `charla:*` key, counters excepted, whose name or content contains one of `needles`. */
async function redisMentions(redis: Redis, needles: string[]): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'charla:*', 'COUNT', 1000);
    for (const key of keys) {
      if (COUNTERS.test(key)) continue;
      const text = `${key} ${JSON.stringify(await contentOf(redis, key))}`;
      if (needles.some((needle) => text.includes(needle))) found.push(key);
    }
    cursor = next;
    if (cursor === '0') return found.sort();
  }
  throw new Error(`SCAN did not finish in ${MAX_SCAN_ROUNDS} rounds`);
}

async function contentOf(redis: Redis, key: string): Promise<unknown> {
  switch (await redis.type(key)) {
    case 'string':
      return redis.get(key);
    case 'zset':
      return redis.zrange(key, 0, -1);
    case 'stream':
      return redis.xrange(key, '-', '+');
    case 'hash':
      return redis.hgetall(key);
    case 'list':
      return redis.lrange(key, 0, -1);
    case 'set':
      return redis.smembers(key);
    default:
      // Expired between SCAN and TYPE.
      return null;
  }
}
