import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { FakeLlm } from '../support/fake-llm';
import { chatAppEnv } from '../support/chat-clients';
import { request, type JsonResponse } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/** `/api/conversations/{id}` → the JSON pointer segment for that path in the document. */
const pointer = (path: string) => path.replace(/~/g, '~0').replace(/\//g, '~1');
const MISSING_ID = '00000000-0000-4000-8000-000000000000';
/** The limit headers the server sends; each one it sends must be in the document, and typed right. */
const LIMIT_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after'];
const RATE_LIMIT_HISTORY = 3;

/**
 * The OpenAPI document is the contract dashboards build on: every route the app serves is in it,
 * and every response below — successes and errors — validates against the schema it declares.
 */
describe('OpenAPI contract (/api/docs-json)', () => {
  const fake = new FakeLlm();
  let app: TestApp;
  let doc: any;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);

  beforeAll(async () => {
    await fake.start();
    app = await startApp(
      chatAppEnv(fake, {
        ...storageSetups()[0].env(),
        RATE_LIMIT_HISTORY: String(RATE_LIMIT_HISTORY),
      }),
    );
    doc = (await request(`${app.url}/api/docs-json`)).body;
    ajv.addSchema(doc, 'doc');
  });
  afterAll(async () => {
    await app.close();
    await fake.stop();
    removeDataDir(app.env);
  });

  /** Asserts `res` is a response the document declares for this operation, with a valid body. */
  function conforms(method: string, path: string, res: JsonResponse): void {
    const declared = doc.paths[path]?.[method]?.responses?.[res.status];
    if (!declared)
      throw new Error(
        `${method.toUpperCase()} ${path} answered ${res.status}, which the document does not declare`,
      );
    headersConform(`${method.toUpperCase()} ${path} ${res.status}`, declared.headers ?? {}, res);
    const json = declared.content?.['application/json'];
    if (!json) {
      expect(res.body === undefined || typeof res.body === 'string').toBe(true);
      return;
    }
    const at = `doc#/paths/${pointer(path)}/${method}/responses/${res.status}/content/application~1json/schema`;
    const validate = ajv.getSchema(at)!;
    if (!validate(res.body)) {
      throw new Error(
        `${method.toUpperCase()} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body)}`,
      );
    }
  }

  /** Every limit header sent is declared with an integer schema; every required one is sent. */
  function headersConform(where: string, declared: Record<string, any>, res: JsonResponse): void {
    const byName = new Map(Object.entries(declared).map(([name, h]) => [name.toLowerCase(), h]));
    for (const name of LIMIT_HEADERS) {
      const value = res.headers.get(name);
      const header = byName.get(name);
      if (value !== null && !header)
        throw new Error(`${where} sent ${name}, which the document does not declare`);
      if (value === null && header?.required)
        throw new Error(`${where} lacks the ${name} header the document requires`);
      if (value !== null && !ajv.validate(header.schema, Number(value)))
        throw new Error(`${where} ${name}: ${value}: ${ajv.errorsText(ajv.errors)}`);
    }
  }

  it('documents every route the app serves, and nothing else', () => {
    const router = (app.app.getHttpAdapter().getInstance() as any).router;
    const served = new Set<string>();
    for (const layer of router.stack) {
      if (!layer.route) continue;
      const path = (layer.route.path as string).replace(/:(\w+)/g, '{$1}');
      // Swagger UI's own routes, and the framework's catch-all that answers 404 for unknown paths.
      if (path.startsWith('/api/docs') || path === '/{*path}') continue;
      for (const method of Object.keys(layer.route.methods)) served.add(`${method} ${path}`);
    }
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(operations)) documented.add(`${method} ${path}`);
    }
    expect([...served].sort()).toEqual([...documented].sort());
  });

  it('declares the bearer scheme and the error envelope', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(
      doc.paths['/api/conversations'].get.responses['401'].content['application/json'].schema.$ref,
    ).toBe('#/components/schemas/Error');
  });

  /** Calls `url` and asserts the answer is one the document declares for `method path`. */
  const check = async (
    method: string,
    path: string,
    url: string,
    init: Parameters<typeof request>[1] = {},
  ) => {
    const res = await request(`${app.url}${url}`, { method: method.toUpperCase(), ...init });
    conforms(method, path, res);
    return res;
  };

  it('matches what the server really returns', async () => {
    const user = newUserId();
    const auth = bearer(signToken(user));

    await check('get', '/', '/');
    await check('get', '/api/health', '/api/health');
    await check('get', '/api/health/live', '/api/health/live');
    await check('get', '/api/health/ready', '/api/health/ready');
    await check('get', '/metrics', '/metrics');

    const created = await check('post', '/api/conversations', '/api/conversations', {
      headers: auth,
      body: { title: 't' },
    });
    const cid = created.body.id;
    await check('get', '/api/conversations', '/api/conversations?limit=5', { headers: auth });
    await check('get', '/api/conversations/{id}', `/api/conversations/${cid}`, { headers: auth });
    await check('patch', '/api/conversations/{id}', `/api/conversations/${cid}`, {
      headers: auth,
      body: { title: 'u' },
    });

    fake.enqueue({ text: 'respuesta' });
    const chat = await check('post', '/api/chat', '/api/chat', {
      headers: auth,
      body: { message: 'Estoy feliz', sessionId: 's' },
    });
    expect(chat.status).toBe(200);
    expect(chat.body.reply).toBe('respuesta');
    const chatConversation = chat.body.metadata.conversationId;
    await check(
      'get',
      '/api/conversations/{id}/messages',
      `/api/conversations/${chatConversation}/messages`,
      { headers: auth },
    );
    await check(
      'get',
      '/api/conversations/{id}/sentiment',
      `/api/conversations/${chatConversation}/sentiment`,
      { headers: auth },
    );
    await check('get', '/api/chat/history/{userId}', `/api/chat/history/${user}?limit=2`, {
      headers: auth,
    });
    await check('post', '/api/chat/analyze-sentiment', '/api/chat/analyze-sentiment', {
      headers: auth,
      body: { text: 'I love it' },
    });
    const usage = await check('get', '/api/me/usage', '/api/me/usage', { headers: auth });
    expect(usage.status).toBe(200);
    expect(usage.body.tokensUsed).toBe(chat.body.usage.total_tokens);

    // Errors, each in the envelope the document declares.
    await check('get', '/api/conversations', '/api/conversations');
    await check('post', '/api/conversations', '/api/conversations', {
      headers: auth,
      body: { nope: 1 },
    });
    await check('post', '/api/conversations', '/api/conversations', {
      headers: auth,
      body: { title: 'x'.repeat(70_000) },
    });
    await check(
      'get',
      '/api/conversations/{id}',
      '/api/conversations/00000000-0000-4000-8000-000000000000',
      { headers: auth },
    );
    await check('get', '/api/chat/history/{userId}', '/api/chat/history/someone-else', {
      headers: auth,
    });
    await check(
      'get',
      '/api/conversations/{id}/messages',
      `/api/conversations/${chatConversation}/messages`,
      { headers: auth },
    );
    const limited = await check('get', '/api/chat/history/{userId}', `/api/chat/history/${user}`, {
      headers: auth,
    });
    expect(limited.status).toBe(429);
    fake.enqueue({ status: 500 }, { status: 500 }, { status: 500 });
    const failed = await check('post', '/api/chat', '/api/chat', {
      headers: auth,
      body: { message: 'x' },
    });
    expect(failed.status).toBe(502);

    await check('delete', '/api/conversations/{id}', `/api/conversations/${cid}`, {
      headers: auth,
    });
    await check('delete', '/api/chat/history/{userId}', `/api/chat/history/${user}`, {
      headers: auth,
    });
  });

  it('answers the profile routes as documented', async () => {
    const auth = bearer(signToken(newUserId()));
    const empty = await check('get', '/api/me/profile', '/api/me/profile', { headers: auth });
    expect(empty.body).toEqual({ profile: {}, updatedAt: null });
    const profile = { name: 'Ana', locale: 'es-AR', preferences: { tone: 'informal' } };
    const put = await check('put', '/api/me/profile', '/api/me/profile', {
      headers: auth,
      body: profile,
    });
    expect(put.status).toBe(200);
    const stored = await check('get', '/api/me/profile', '/api/me/profile', { headers: auth });
    expect(stored.body).toEqual(put.body);
    expect(stored.body.profile).toEqual(profile);

    const tooLarge = await check('put', '/api/me/profile', '/api/me/profile', {
      headers: auth,
      body: { about: 'x'.repeat(9000) },
    });
    expect(tooLarge.status).toBe(413);
    const unknown = await check('put', '/api/me/profile', '/api/me/profile', {
      headers: auth,
      body: { nickname: 'Anita' },
    });
    expect(unknown.status).toBe(400);
  });

  it('answers the summary routes as documented', async () => {
    const owner = newUserId();
    const asOwner = bearer(signToken(owner));
    fake.enqueue({ text: 'Contame más.' }, { text: 'Ana quiere ahorrar.' });
    const chat = await check('post', '/api/chat', '/api/chat', {
      headers: asOwner,
      body: { message: 'Quiero ahorrar en dólares', sessionId: 'summary' },
    });
    expect(chat.status).toBe(200);
    const id = chat.body.metadata.conversationId;
    const summary = await check(
      'get',
      '/api/conversations/{id}/summary',
      `/api/conversations/${id}/summary`,
      { headers: asOwner },
    );
    expect(summary.body).toMatchObject({ conversationId: id, summary: 'Ana quiere ahorrar.' });
    const missing = await check(
      'get',
      '/api/conversations/{id}/summary',
      `/api/conversations/${MISSING_ID}/summary`,
      { headers: asOwner },
    );
    expect(missing.status).toBe(404);
    const latest = await check('get', '/api/chat/summary/{userId}', `/api/chat/summary/${owner}`, {
      headers: asOwner,
    });
    expect(latest.body).toEqual(summary.body);

    // Summaries are history reads, RATE_LIMIT_HISTORY per user: the owner has spent theirs.
    const asNewcomer = bearer(signToken(newUserId()));
    const forbidden = await check(
      'get',
      '/api/chat/summary/{userId}',
      `/api/chat/summary/${owner}`,
      { headers: asNewcomer },
    );
    expect(forbidden.status).toBe(403);
    const none = await check(
      'get',
      '/api/chat/summary/{userId}',
      `/api/chat/summary/${newUserId()}`,
      { headers: bearer(signToken(newUserId(), { admin: true })) },
    );
    expect(none.status).toBe(404);
  });

  it('declares the RateLimit-* headers the server sends, and answers 429 past a limit', async () => {
    const history = doc.paths['/api/chat/history/{userId}'].get.responses;
    for (const status of ['200', '429']) {
      for (const name of ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'])
        expect(history[status].headers[name]).toMatchObject({ required: true });
    }
    expect(history['429'].headers['Retry-After']).toMatchObject({ required: true });
    // Probes are never limited, so they say nothing about limits.
    expect(doc.paths['/api/health'].get.responses['200'].headers).toEqual({});
    await check('get', '/api/health', '/api/health');

    const user = newUserId();
    const auth = bearer(signToken(user));
    for (let read = 1; read <= RATE_LIMIT_HISTORY; read++) {
      const res = await check('get', '/api/chat/history/{userId}', `/api/chat/history/${user}`, {
        headers: auth,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe(String(RATE_LIMIT_HISTORY));
      expect(res.headers.get('ratelimit-remaining')).toBe(String(RATE_LIMIT_HISTORY - read));
    }
    const limited = await check('get', '/api/chat/history/{userId}', `/api/chat/history/${user}`, {
      headers: auth,
    });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ code: 'rate_limited', retryAfter: expect.any(Number) });
    expect(limited.headers.get('retry-after')).toBe(String(limited.body.retryAfter));
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
  });
});
