import { FakeLlm } from '../support/fake-llm';
import { chatAppEnv, closeClients, connectSocketIo } from '../support/chat-clients';
import { request } from '../support/http';
import { removeDataDir, startApp, storageSetups, type TestApp } from '../support/test-app';
import { bearer, newUserId, signToken } from '../support/tokens';

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  const fake = new FakeLlm();
  let app: TestApp;

  beforeAll(async () => {
    await fake.start();
    app = await startApp(
      chatAppEnv(fake, { ...storageSetups()[0].env(), RATE_LIMIT_HISTORY: '1' }),
    );
  });
  afterEach(() => closeClients());
  afterAll(async () => {
    await app.close();
    await fake.stop();
    removeDataDir(app.env);
  });

  const scrape = async () => {
    const res = await request(`${app.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.body as string;
  };

  it('counts sockets, replies, tokens, time to first token, HTTP latency and rate-limit rejections', async () => {
    const token = signToken(newUserId());
    await connectSocketIo(app.url, { token });
    fake.enqueue({ text: 'hola mundo', usage: { prompt_tokens: 10, completion_tokens: 7 } });
    const chat = await request(`${app.url}/api/chat`, {
      headers: bearer(token),
      body: { message: 'hola' },
    });
    expect(chat.status).toBe(200);
    fake.enqueue({ status: 500, message: 'boom' }, { status: 500 }, { status: 500 });
    await request(`${app.url}/api/chat`, { headers: bearer(token), body: { message: 'again' } });
    const messages = `${app.url}/api/conversations/${chat.body.metadata.conversationId}/messages`;
    await request(messages, { headers: bearer(token) });
    expect((await request(messages, { headers: bearer(token) })).status).toBe(429);

    const text = await scrape();
    expect(sample(text, 'charla_connected_sockets')).toBe(1);
    expect(sample(text, 'charla_running_generations')).toBe(0);
    expect(sample(text, 'charla_generations_total{status="complete"}')).toBe(1);
    expect(sample(text, 'charla_generations_total{status="failed"}')).toBe(1);
    expect(sample(text, 'charla_tokens_streamed_total')).toBe(7);
    expect(sample(text, 'charla_time_to_first_token_seconds_count')).toBe(1);
    expect(
      sample(text, 'charla_upstream_errors_total{code="upstream_error",type="server_error"}'),
    ).toBe(1);
    expect(sample(text, 'charla_rate_limit_rejections_total{limit="history"}')).toBe(1);
    expect(
      sample(
        text,
        'charla_http_request_duration_seconds_count{method="POST",route="/api/chat",status="200"}',
      ),
    ).toBe(1);
    expect(text).not.toMatch(/route="\/api\/conversations\/[0-9a-f-]{36}/);
  });
});
