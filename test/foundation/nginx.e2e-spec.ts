import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import {
  chatAppEnv,
  closeClients,
  connectWs,
  refusedSocketIo,
  refusedWs,
  SocketIoClient,
  type ChatClient,
} from '../support/chat-clients';
import { FakeLlm } from '../support/fake-llm';
import { request } from '../support/http';
import { NGINX_BINARY, startNginx, type RunningNginx } from '../support/nginx';
import { SERVER_ENTRY, startServerProcess, type ServerProcess } from '../support/server-process';
import { bearer, newUserId, signToken } from '../support/tokens';
import { waitFor } from '../support/wait';

const WORDS = ['Hola', ' desde', ' el', ' otro', ' lado', ' del', ' proxy'];
const TEXT = WORDS.join('');
/** nginx reaches the nodes from 127.0.0.1, the one hop they trust to set X-Forwarded-For. */
const NGINX_ADDRESS = '127.0.0.1';
/** Clients that must look like other machines bind other loopback addresses. */
const SPOOFER_ADDRESS = '127.0.0.2';
const NEIGHBOUR_ADDRESS = '127.0.0.3';
/** Reached on purpose by one test; well above what the other tests send from 127.0.0.1. */
const IP_LIMIT = 50;
/** Spellings the app routes to its metrics (Express matches case-insensitively, slash optional). */
const METRICS_PATHS = ['/metrics', '/metrics/', '/METRICS', '/metrics?format=text'];

const nginxInstalled = existsSync(NGINX_BINARY);
if (!nginxInstalled && !process.env.CI) {
  console.warn(
    `\n${NGINX_BINARY} is missing: skipping the nginx.conf suite (apt-get install nginx-light)\n`,
  );
}
/** In CI a missing nginx fails the suite (in its beforeAll) instead of skipping it. */
const describeWithNginx = nginxInstalled || process.env.CI ? describe : describe.skip;

/**
 * The repository's nginx.conf, run for real in front of two server processes as docker-compose runs
 * it (SPEC §10). The nodes use embedded storage and share nothing: ip_hash keys on the first three
 * octets of the client address, so every test client (127.0.0.x) reaches the same node.
 */
describeWithNginx('nginx.conf in front of two nodes', () => {
  const fake = new FakeLlm({ chunks: WORDS, tokenDelayMs: 20 });
  const workDirs: string[] = [];
  const nodes: ServerProcess[] = [];
  let nginx: RunningNginx;

  beforeAll(async () => {
    if (!nginxInstalled) throw new Error(`${NGINX_BINARY} is missing: install nginx-light`);
    if (!existsSync(SERVER_ENTRY))
      throw new Error(`${SERVER_ENTRY} is missing: run "npm run build"`);
    await fake.start();
    await Promise.all([startNode(), startNode()]);
    nginx = await startNginx(nodes.map((node) => new URL(node.url).host));
  }, 60_000);
  afterEach(() => {
    closeClients();
    fake.reset();
  });
  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
    await fake.stop();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a server process in a directory of its own, so its PGlite data is its own. */
  async function startNode(): Promise<void> {
    const cwd = mkdtempSync(join(tmpdir(), 'charla-nginx-node-'));
    workDirs.push(cwd);
    const env = {
      ...chatAppEnv(fake),
      TRUSTED_PROXIES: NGINX_ADDRESS,
      RATE_LIMIT_IP: String(IP_LIMIT),
    } as Record<string, string>;
    const node = await startServerProcess(env, cwd);
    // Kept before the check: if the other node fails, afterAll still stops this one.
    nodes.push(node);
    if (!node.output().includes('Listening on'))
      throw new Error(`a node did not start:\n${node.output()}`);
  }

  it('answers REST through nginx and refuses /metrics however it is spelled', async () => {
    const health = await request(`${nginx.url}/api/health`);
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('healthy');

    const headers = bearer(signToken(newUserId()));
    const created = await request(`${nginx.url}/api/conversations`, {
      headers,
      body: { title: 'Por el proxy' },
    });
    expect(created.status).toBe(201);
    const listed = await request(`${nginx.url}/api/conversations`, { headers });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((c: { id: string }) => c.id)).toEqual([created.body.id]);

    for (const path of METRICS_PATHS) {
      // The node itself answers each spelling: only nginx keeps the metrics from the internet.
      const direct = await request(`${nodes[0].url}${path}`);
      const proxied = await request(`${nginx.url}${path}`);
      expect([path, direct.status, proxied.status]).toEqual([path, 200, 403]);
    }
  });

  it.each(['websocket', 'polling'] as const)(
    'streams a chat over Socket.IO through nginx with only the %s transport',
    async (transport) => {
      const client = await connectSocketIo(nginx.url, signToken(newUserId()), transport);
      expect(client.socket.io.engine.transport.name).toBe(transport);
      await expectChatRoundTrip(client);
    },
  );

  it('upgrades /ws through nginx and streams a chat over it', async () => {
    await expectChatRoundTrip(await connectWs(nginx.url, { token: signToken(newUserId()) }));
  });

  it('passes SSE from POST /api/chat through as it is written, not buffered', async () => {
    fake.enqueue({ chunks: WORDS, tokenDelayMs: 150 });
    const events = await postChatSse(nginx.url, signToken(newUserId()), 'Contá despacio');
    const upstreamEnd = await fake.waitForEnd(fake.requests[0]);

    expect(events.map((e) => e.event)).toEqual([
      'chat:ack',
      ...WORDS.map(() => 'chat:delta'),
      'chat:done',
    ]);
    expect(events.at(-1)!.data.message).toMatchObject({ status: 'complete', content: TEXT });
    // Buffered, nothing would arrive before the upstream had sent its last token and closed.
    const firstDelta = events.find((e) => e.event === 'chat:delta')!;
    expect(firstDelta.arrivedAt).toBeLessThan(upstreamEnd.at);
  });

  it('counts the per-IP limit from the address nginx forwards, which a client cannot fake', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= IP_LIMIT; i++) {
      // A new made-up address each time: were it believed, no address would reach the limit.
      const forged = { 'x-forwarded-for': `203.0.113.${i}` };
      statuses.push(await statusFrom(SPOOFER_ADDRESS, `${nginx.url}/`, forged));
    }
    expect(statuses).toEqual([...Array<number>(IP_LIMIT).fill(200), 429]);
    // Another client behind the same nginx keeps its own budget: the limit is not nginx's own.
    expect(await statusFrom(NEIGHBOUR_ADDRESS, `${nginx.url}/`)).toBe(200);
  });

  // Last, so that the log also holds every request and connection of the tests above.
  it('never writes a token to the access log, not even one a client put in the query string', async () => {
    const token = signToken(newUserId());
    expect((await request(`${nginx.url}/api/conversations?token=${token}`)).status).toBe(401);
    expect((await refusedWs(nginx.url, `/ws?token=${token}`)).status).toBe(401);
    expect((await refusedSocketIo(nginx.url, { query: { token } })).data?.code).toBe(
      'unauthorized',
    );
    // nginx logs a WebSocket when it closes.
    closeClients();
    const refusals = [
      /"GET \/api\/conversations\S*" 401/,
      /"GET \/ws\S*" 401/,
      /"GET \/socket\.io\/\S*" 101/,
    ];
    await waitFor(() => refusals.every((line) => line.test(nginx.accessLog())), 3000);

    const log = nginx.accessLog();
    expect(log).not.toContain(token);
    // Every JWT starts with "eyJ" (base64 of '{"'): no test's token, from a header or a query, got in.
    expect(log).not.toContain('eyJ');
  });
});

/** A Socket.IO client of `/chat` restricted to one transport, connected with `token`. */
async function connectSocketIo(
  baseUrl: string,
  token: string,
  transport: 'websocket' | 'polling',
): Promise<SocketIoClient> {
  const client = new SocketIoClient(
    io(`${baseUrl}/chat`, {
      transports: [transport],
      reconnection: false,
      forceNew: true,
      timeout: 3000,
      auth: { token },
    }),
  );
  await new Promise<void>((resolve, reject) => {
    client.socket.once('connect', () => resolve());
    client.socket.once('connect_error', reject);
  });
  return client;
}

/** Sends one message and checks that its whole reply streamed back in order and completed. */
async function expectChatRoundTrip(client: ChatClient): Promise<void> {
  const ack = await client.request('chat:send', { clientMessageId: randomUUID(), content: 'Hola' });
  expect(ack).toMatchObject({ ok: true, duplicate: false });
  const reply = await client.collectReply(ack.replyId);
  expect(reply.deltas.map((d) => d.seq)).toEqual(WORDS.map((_, i) => i + 1));
  expect(reply.text).toBe(TEXT);
  expect(reply.done).toMatchObject({ status: 'complete', content: TEXT });
}

interface SseEvent {
  event: string;
  data: any;
  /** `Date.now()` when the event had fully arrived. */
  arrivedAt: number;
}

/** POST /api/chat asking for SSE; each event is timestamped as it arrives. */
async function postChatSse(baseUrl: string, token: string, message: string): Promise<SseEvent[]> {
  const res = await fetch(`${baseUrl}/api/chat`, {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ message }),
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let pending = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return events;
    pending += decoder.decode(value, { stream: true });
    const blocks = pending.split('\n\n');
    pending = blocks.pop() ?? '';
    events.push(...blocks.map((block) => ({ ...parseSseBlock(block), arrivedAt: Date.now() })));
  }
}

function parseSseBlock(block: string): { event: string; data: any } {
  const field = (name: string) =>
    block
      .split('\n')
      .find((line) => line.startsWith(`${name}: `))
      ?.slice(name.length + 2) ?? '';
  return { event: field('event'), data: JSON.parse(field('data')) };
}

/** GET from a given local address, as another machine would; resolves with the status. */
function statusFrom(
  localAddress: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, headers, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
