import { DataSource } from 'typeorm';
import { insertMessages } from '../factories/message.factory';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

describe.each(storageSetups())('Conversations and history over REST [$name]', (setup) => {
  let app: TestApp;
  const alice = newUserId('alice');
  const bob = newUserId('bob');
  const asAlice = bearer(signToken(alice));
  const asBob = bearer(signToken(bob));
  const asAdmin = bearer(signToken(newUserId('admin'), { admin: true }));

  beforeAll(async () => {
    app = await startApp(setup.env());
  });
  afterAll(async () => {
    await app.close();
    removeDataDir(app.env);
  });

  const api = (path: string) => `${app.url}/api${path}`;
  const createConversation = async (headers: Record<string, string>, body: object = {}) => {
    const res = await request(api('/conversations'), { headers, body });
    expect(res.status).toBe(201);
    return res.body;
  };

  it('creates, reads, renames, lists and deletes a conversation', async () => {
    const created = await createConversation(asAlice, {
      title: 'Plan de ahorro',
      persona: 'finance-ar',
    });
    expect(created).toMatchObject({
      userId: alice,
      title: 'Plan de ahorro',
      persona: 'finance-ar',
    });

    expect((await request(api(`/conversations/${created.id}`), { headers: asAlice })).body).toEqual(
      created,
    );

    const renamed = await request(api(`/conversations/${created.id}`), {
      method: 'PATCH',
      headers: asAlice,
      body: { title: 'Ahorro 2027' },
    });
    expect(renamed.body.title).toBe('Ahorro 2027');

    const list = await request(api('/conversations'), { headers: asAlice });
    expect(list.body.data.map((c: { id: string }) => c.id)).toContain(created.id);

    expect(
      (await request(api(`/conversations/${created.id}`), { method: 'DELETE', headers: asAlice }))
        .status,
    ).toBe(204);
    expect((await request(api(`/conversations/${created.id}`), { headers: asAlice })).status).toBe(
      404,
    );
  });

  it("answers another user's conversation exactly like a missing one, and lets an admin read it", async () => {
    const conversation = await createConversation(asAlice);
    const ids = await insertMessages(
      app.app.get(DataSource),
      { id: conversation.id, userId: alice },
      3,
    );
    const missing = '00000000-0000-4000-8000-000000000000';

    for (const path of ['', '/messages']) {
      const stranger = await request(api(`/conversations/${conversation.id}${path}`), {
        headers: asBob,
      });
      const absent = await request(api(`/conversations/${missing}${path}`), { headers: asBob });
      expect(stranger.status).toBe(404);
      expect({ ...stranger.body, requestId: undefined }).toEqual({
        ...absent.body,
        requestId: undefined,
      });

      const asDashboard = await request(api(`/conversations/${conversation.id}${path}`), {
        headers: asAdmin,
      });
      expect(asDashboard.status).toBe(200);
    }
    const adminMessages = await request(api(`/conversations/${conversation.id}/messages`), {
      headers: asAdmin,
    });
    expect(adminMessages.body.data.map((m: { id: string }) => m.id)).toEqual([...ids].reverse());
    const patch = await request(api(`/conversations/${conversation.id}`), {
      method: 'PATCH',
      headers: asBob,
      body: { title: 'x' },
    });
    expect(patch.status).toBe(404);
    expect(
      (
        await request(api(`/conversations/${conversation.id}`), {
          method: 'DELETE',
          headers: asBob,
        })
      ).status,
    ).toBe(404);
    expect((await request(api(`/conversations?userId=${alice}`), { headers: asBob })).status).toBe(
      403,
    );
    const adminList = await request(api(`/conversations?userId=${alice}`), { headers: asAdmin });
    expect(adminList.body.data.map((c: { id: string }) => c.id)).toContain(conversation.id);
  });

  it('pages history newest first with a keyset cursor, no gap and no duplicate', async () => {
    const conversation = await createConversation(asAlice);
    const ids = await insertMessages(
      app.app.get(DataSource),
      { id: conversation.id, userId: alice },
      120,
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const query: string = `limit=50${cursor ? `&before=${cursor}` : ''}`;
      const page = await request(api(`/conversations/${conversation.id}/messages?${query}`), {
        headers: asAlice,
      });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((m: { id: string }) => m.id));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([...ids].reverse());
    expect(seen).toHaveLength(120);
  });

  it('pages the conversation list with a cursor', async () => {
    const user = newUserId();
    const headers = bearer(signToken(user));
    for (let i = 0; i < 5; i++) await createConversation(headers, { title: `c${i}` });
    const first = await request(api('/conversations?limit=3'), { headers });
    const second = await request(api(`/conversations?limit=3&cursor=${first.body.nextCursor}`), {
      headers,
    });
    const titles = [...first.body.data, ...second.body.data].map((c: { title: string }) => c.title);
    expect(titles.sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(second.body.nextCursor).toBeNull();
  });

  describe('bad input gets 400/413 with details, never 500', () => {
    it.each([
      ['unknown field', { title: 'x', admin: true }, 'admin'],
      ['wrong type', { title: 42 }, 'title'],
      ['unknown persona', { persona: 'pirate' }, 'persona'],
      ['too long a title', { title: 'x'.repeat(201) }, 'title'],
    ])('%s', async (_, body, field) => {
      const res = await request(api('/conversations'), { headers: asAlice, body });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('bad_request');
      expect(res.body.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ field: expect.stringContaining(field) }),
        ]),
      );
    });

    it.each([
      'limit=0',
      'limit=1000',
      'limit=abc',
      'before=!!!',
      'before=bm90LWEtbnVtYmVy',
      'extra=1',
    ])('messages query %s', async (query) => {
      const conversation = await createConversation(asAlice);
      const res = await request(api(`/conversations/${conversation.id}/messages?${query}`), {
        headers: asAlice,
      });
      expect(res.status).toBe(400);
      expect(res.body.details[0]).toMatchObject({
        field: expect.any(String),
        message: expect.any(String),
      });
    });

    it('garbage conversation cursor and non-UUID ids', async () => {
      expect(
        (await request(api('/conversations?cursor=Zm9vfGJhcg'), { headers: asAlice })).status,
      ).toBe(400);
      const res = await request(api('/conversations/not-a-uuid'), { headers: asAlice });
      expect(res.status).toBe(400);
      expect(res.body.details[0].value).toBe('not-a-uuid');
    });

    it('malformed JSON and a body over 64 KB, each with details naming the body', async () => {
      const bad = await request(api('/conversations'), { headers: asAlice, rawBody: '{"title": ' });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('bad_request');
      // Nest's mapping of body-parser's SyntaxError keeps its message, not the text that failed.
      expect(bad.body.details).toEqual([{ field: 'body', message: expect.stringMatching(/JSON/) }]);
      const body = { title: 'x'.repeat(70_000) };
      const huge = await request(api('/conversations'), { headers: asAlice, body });
      expect(huge.status).toBe(413);
      expect(huge.body.code).toBe('payload_too_large');
      expect(huge.body.details).toEqual([
        {
          field: 'body',
          message: `must be at most ${app.config.http.bodyLimitBytes} bytes`,
          value: Buffer.byteLength(JSON.stringify(body)),
        },
      ]);
      // Refused before the request logger ran, yet with a request id a client can quote.
      for (const res of [bad, huge]) {
        expect(res.body.requestId).toMatch(/^[\w-]{8,}$/);
        expect(res.headers.get('x-request-id')).toBe(res.body.requestId);
      }
    });

    it('unknown routes', async () => {
      const res = await request(api('/nope'), { headers: asAlice });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('not_found');
    });
  });

  it('keeps every stored conversation across a restart', async () => {
    const conversation = await createConversation(asAlice, { title: 'survives restarts' });
    await insertMessages(app.app.get(DataSource), { id: conversation.id, userId: alice }, 4);
    await app.close();
    app = await startApp(app.env);
    const again = await request(api(`/conversations/${conversation.id}`), { headers: asAlice });
    expect(again.body.title).toBe('survives restarts');
    const history = await request(api(`/conversations/${conversation.id}/messages`), {
      headers: asAlice,
    });
    expect(history.body.data).toHaveLength(4);
  });
});
