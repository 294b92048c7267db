import type { ErrorBody, MessageDto, Page } from '@charla/contracts';
import { DataSource } from 'typeorm';
import type Redis from 'ioredis';
import { ReplyBuffer } from '../../src/chat/generation/reply-buffer';
import { REDIS } from '../../src/memory/memory.module';
import { HistoryService } from '../../src/conversations/history.service';
import { MessageEntity } from '../../src/conversations/message.entity';
import { UserProfileEntity } from '../../src/conversations/user-profile.entity';
import { insertMessages } from '../factories/message.factory';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

const BIG_HISTORY = 10_000;
const PAGE = 50;
const BATCH = 500;

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
  const newUser = () => {
    const id = newUserId();
    return { id, headers: bearer(signToken(id)) };
  };
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

  it("erases the user's conversations, messages and profile, and nobody else's", async () => {
    const alice = newUser();
    const bob = newUser();
    const conversations = [
      await createConversation(alice.headers),
      await createConversation(alice.headers),
    ];
    for (const c of conversations) await insertMessages(dataSource, c, 4);
    const bobs = await createConversation(bob.headers);
    await insertMessages(dataSource, bobs, 2);
    // Resume buffers of one reply each (insertMessages alternates user, assistant).
    const buffers = app.app.get(ReplyBuffer);
    const replyOf = async (conversationId: string) =>
      (
        await dataSource
          .getRepository(MessageEntity)
          .findOneByOrFail({ conversationId, role: 'assistant' })
      ).id;
    const [aliceReply, bobReply] = [await replyOf(conversations[0].id), await replyOf(bobs.id)];
    for (const [conversationId, replyId] of [
      [conversations[0].id, aliceReply],
      [bobs.id, bobReply],
    ]) {
      await buffers.append({ conversationId, replyId, seq: 1, text: 'buffered' });
    }
    const profiles = dataSource.getRepository(UserProfileEntity);
    await profiles.insert([
      { userId: alice.id, profile: { name: 'Alicia' } },
      { userId: bob.id, profile: { name: 'Roberto' } },
    ]);

    // A real exchange fills Alice's conversation memory and cached profile (offline provider).
    await request(api('/me/profile'), {
      method: 'PUT',
      headers: alice.headers,
      body: { name: 'Alicia' },
    });
    const chat = await request(api('/chat'), { headers: alice.headers, body: { message: 'hola' } });
    expect(chat.status).toBe(200);
    const redis = app.app.get<Redis | null>(REDIS);
    const memoryKeys = async () =>
      redis
        ? [
            ...(await redis.keys(`charla:memory:user:${alice.id}:*`)),
            ...(await redis.keys(
              `charla:memory:conversation:${chat.body.metadata.conversationId}*`,
            )),
          ]
        : [];
    if (redis) expect((await memoryKeys()).length).toBeGreaterThan(0);

    const erased = await request(api(`/chat/history/${alice.id}`), {
      method: 'DELETE',
      headers: alice.headers,
    });
    expect(erased.status).toBe(204);
    expect(await memoryKeys()).toEqual([]);

    expect((await historyPage(alice.id, alice.headers)).body).toEqual({
      data: [],
      nextCursor: null,
    });
    for (const c of conversations) {
      expect(
        (await request(api(`/conversations/${c.id}`), { headers: alice.headers })).status,
      ).toBe(404);
    }
    expect(await dataSource.getRepository(MessageEntity).countBy({ userId: alice.id })).toBe(0);
    expect(await profiles.countBy({ userId: alice.id })).toBe(0);
    expect(await buffers.read(aliceReply, 0)).toBeNull();
    expect((await buffers.read(bobReply, 0))?.deltas).toHaveLength(1);

    expect((await historyPage(bob.id, bob.headers)).body.data).toHaveLength(2);
    expect(await profiles.countBy({ userId: bob.id })).toBe(1);
    // Erasing again (or a user with no history) is harmless.
    expect(
      (
        await request(api(`/chat/history/${alice.id}`), {
          method: 'DELETE',
          headers: alice.headers,
        })
      ).status,
    ).toBe(204);
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

  it('counts reads against the per-user history limit, and erasing does not', async () => {
    const limited = await startApp({ ...setup.env(), RATE_LIMIT_HISTORY: '2' });
    try {
      const carol = newUser();
      const read = () =>
        request(`${limited.url}/api/chat/history/${carol.id}`, { headers: carol.headers });
      const erase = () =>
        request(`${limited.url}/api/chat/history/${carol.id}`, {
          method: 'DELETE',
          headers: carol.headers,
        });
      expect((await read()).headers.get('ratelimit-limit')).toBe('2');
      expect((await erase()).status).toBe(204);
      expect((await read()).status).toBe(200);
      const refused = await read();
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('rate_limited');
    } finally {
      await limited.close();
      removeDataDir(limited.env);
    }
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
