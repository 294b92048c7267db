import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { FakeLlm } from '../support/fake-llm';
import { chatAppEnv } from '../support/chat-clients';
import { request, type JsonResponse } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/** `/api/conversations/{id}` → the JSON pointer segment for that path in the document. */
const pointer = (path: string) => path.replace(/~/g, '~0').replace(/\//g, '~1');

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
      chatAppEnv(fake, { ...storageSetups()[0].env(), RATE_LIMIT_HISTORY: '3' }),
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

  it('matches what the server really returns', async () => {
    const user = newUserId();
    const auth = bearer(signToken(user));
    const api = (path: string) => `${app.url}${path}`;
    const check = async (
      method: string,
      path: string,
      url: string,
      init: Parameters<typeof request>[1] = {},
    ) => {
      const res = await request(api(url), { method: method.toUpperCase(), ...init });
      conforms(method, path, res);
      return res;
    };

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
    await check('get', '/api/me/usage', '/api/me/usage', { headers: auth });

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
});
