/**
 * SPEC §11's history figure: a page of 50 of one user's messages, from a 5M-message table, through
 * Charla's REST API (`GET /api/chat/history/:userId`) against raw node-postgres running the very
 * SQL Charla sends. Charla's built server runs as its own process on the dedicated database
 * `charla_bench`, seeded once with set-based SQL and reused by later runs.
 */
import { Agent, get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Client, Pool } from 'pg';
import { DataSource } from 'typeorm';
import { encodeCursor } from '../src/common/cursor';
import { HistoryService } from '../src/conversations/history.service';
import { MessageEntity } from '../src/conversations/message.entity';
import {
  startServerProcess,
  waitUntilLive,
  type ServerProcess,
} from '../test/support/server-process';
import { signToken } from '../test/support/tokens';
import { percentile, type Figure, type Section } from './report';

const DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/charla_bench';
// A database number the tests do not use: the bench's rate-limit counters stay out of their way.
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/9';
const JWT_SECRET = 'charla-history-bench-secret-0123456789abcdef';

/**
 * The seeded data. Time is cut into blocks of 50,000 messages; in each block 500 conversations
 * are active at once, their turns interleaved, 100 messages each (user and assistant alternating).
 * Every 25th conversation belongs to the heavy user, whose rows are therefore spread over the whole
 * heap (no two of a page's rows share a heap page): the least cache-friendly layout for a page.
 */
const SEED = {
  /** Bump when the shape below changes, so that the next run seeds again. */
  marker: 'charla-history-bench seed v1',
  messages: 5_000_000,
  batch: 1_000_000,
  blockMessages: 50_000,
  conversationsPerBlock: 500,
  users: 5_000,
  heavyUser: 'bench-heavy',
  heavyEvery: 25,
};
const CONVERSATIONS = (SEED.messages / SEED.blockMessages) * SEED.conversationsPerBlock;
const HEAVY_MESSAGES = SEED.messages / SEED.heavyEvery;

const PAGE_SIZE = 50;
/** Distinct pages measured: the first, then one every PAGE_STEP messages down the history. */
const PAGES = 100;
const PAGE_STEP = HEAVY_MESSAGES / PAGES;
/** Both sides get the same pool size (Charla's DB_POOL_SIZE). */
const POOL_SIZE = 10;
const CLIENTS = 8;
const SEQUENTIAL = { rounds: 4, perRound: 400 };
const CONCURRENT = { rounds: 2, perClientPerRound: 100 };
/** Everything after seeding (warm-up and measurements) stops sending when this runs out. */
const MEASURE_BUDGET_MS = 60_000;
const REQUEST_TIMEOUT_MS = 5_000;
const SERVER_START_TIMEOUT_MS = 60_000;
const SEED_STATEMENT_TIMEOUT_MS = 10 * 60_000;

/** One history page, as both sides fetch it. */
interface Page {
  /** How many of the user's newest messages come before it. */
  depth: number;
  /** Charla's REST path, with the cursor Charla would have handed out. */
  path: string;
  /** The SQL Charla sends for this page, and its parameters. */
  sql: string;
  params: unknown[];
}

/** Fetches one page, to completion; the time it takes is the latency measured. */
type Fetch = (page: Page) => Promise<unknown>;

interface Latencies {
  charla: number[];
  raw: number[];
}

export async function historyBench(): Promise<Section> {
  await ensureDatabase();
  const server = await startCharla();
  const pool = new Pool({
    connectionString: DATABASE_URL,
    max: POOL_SIZE,
    statement_timeout: REQUEST_TIMEOUT_MS,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  try {
    const seeding = await ensureSeed();
    const pages = await historyPages(pool);
    const charla = charlaClient(server.url, agent);
    const raw: Fetch = (page) => pool.query(page.sql, page.params);
    await assertSamePages(charla, pool, [pages[0], pages[pages.length - 1]]);
    const deadline = Date.now() + MEASURE_BUDGET_MS;
    await warmUp(charla, raw, pages, deadline);
    // After the warm-up, so that its buffer counts show the cache the measurements ran with.
    const plan = await explainPage(pool, pages[Math.floor(pages.length / 2)]);
    const sequential = await compare(charla, raw, SEQUENTIAL.rounds, (fetch) =>
      timeSequential(fetch, pages, SEQUENTIAL.perRound, deadline),
    );
    const concurrent = await compare(charla, raw, CONCURRENT.rounds, (fetch) =>
      timeConcurrent(fetch, pages, CONCURRENT.perClientPerRound, deadline),
    );
    return {
      title: 'History page of 50 on a 5M-message table',
      method: describeMethod(seeding, plan, sequential, concurrent),
      figures: figures(sequential, concurrent),
    };
  } finally {
    agent.destroy();
    await pool.end();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Database and server.

/** Creates the bench database when missing; the schema comes from Charla's own migrations. */
async function ensureDatabase(): Promise<void> {
  const url = new URL(DATABASE_URL);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!exists.rowCount) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
}

/** The built server on the bench database; it applies the migrations as it starts. */
async function startCharla(): Promise<ServerProcess> {
  // No wait for the "Listening on" line: LOG_LEVEL=warn leaves it out, so readiness is polled.
  const server = await startServerProcess(
    {
      DATABASE_URL,
      REDIS_URL,
      JWT_SECRET,
      LOG_LEVEL: 'warn',
      DB_POOL_SIZE: String(POOL_SIZE),
      // Far above what the bench sends: it measures reads, not refusals.
      RATE_LIMIT_HISTORY: '100000000',
      RATE_LIMIT_IP: '100000000',
    },
    process.cwd(),
    0,
  );
  await waitUntilLive(server, SERVER_START_TIMEOUT_MS);
  return server;
}

// ---------------------------------------------------------------------------------------------
// Seeding.

/** Seeds the messages unless an earlier run left them; says which, and how long it took. */
async function ensureSeed(): Promise<string> {
  const client = new Client({
    connectionString: DATABASE_URL,
    statement_timeout: SEED_STATEMENT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    if (await seedIsCurrent(client)) return 'reused the data seeded by an earlier run';
    const started = Date.now();
    await seed(client);
    return `seeded in ${Math.round((Date.now() - started) / 1000)} s`;
  } finally {
    await client.end();
  }
}

/** The marker is written last, so a seed that was interrupted half-way is never taken as done. */
async function seedIsCurrent(client: Client): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT obj_description('messages'::regclass, 'pg_class') AS marker,
            (SELECT count(*) FROM messages)::int AS count`,
  );
  return rows[0].marker === SEED.marker && rows[0].count === SEED.messages;
}

async function seed(client: Client): Promise<void> {
  // The seed is written in one go and checked by its marker: no need to wait for each commit to
  // reach the disk, nor to check each message's foreign key against rows made just before
  // (skipping triggers takes a superuser, which the bench's `postgres` user is).
  await client.query('SET synchronous_commit = off');
  await client.query('SET session_replication_role = replica');
  await client.query('TRUNCATE conversations, messages, user_profiles RESTART IDENTITY');
  await client.query(insertConversations());
  for (let from = 0; from < SEED.messages; from += SEED.batch) {
    progress(`seeding messages ${from + 1}-${from + SEED.batch} of ${SEED.messages}`);
    await client.query(insertMessages(from, from + SEED.batch - 1));
  }
  // Fresh statistics for the planner, and the vacuum done now rather than by autovacuum in the
  // middle of a measurement.
  progress('vacuum analyze');
  await client.query('VACUUM (ANALYZE) conversations, messages');
  await client.query(`COMMENT ON TABLE messages IS '${SEED.marker}'`);
}

/** Conversation `c`'s owner: every `heavyEvery`-th is the heavy user's, the rest spread evenly. */
function ownerOf(c: string): string {
  const others = SEED.users - 1;
  return `CASE WHEN ${c} % ${SEED.heavyEvery} = 0 THEN '${SEED.heavyUser}'
               ELSE 'bench-user-' || ((${c} * 7919) % ${others} + 1) END`;
}

/** The time of message number `g`: one every 6 s, so 5M messages span about a year. */
function timeOf(g: string): string {
  return `timestamptz '2025-01-01' + (${g}) * interval '6 s'`;
}

function insertConversations(): string {
  const { blockMessages: block, conversationsPerBlock: active } = SEED;
  const firstMessage = `(c / ${active}) * ${block} + c % ${active}`;
  const lastMessage = `${firstMessage} + ${block - active}`;
  return `
    INSERT INTO conversations (id, user_id, title, persona, created_at, updated_at)
    SELECT md5('conversation-' || c)::uuid, ${ownerOf('c')}, 'Conversation ' || c, 'default',
           ${timeOf(firstMessage)}, ${timeOf(lastMessage)}
    FROM generate_series(0, ${CONVERSATIONS - 1}) AS c`;
}

/**
 * Messages number `from` to `to`, in order, so that `position` follows time. Message g belongs to
 * conversation c of its block; odd turns are the assistant's replies to the message before them
 * in that conversation (g - 500), with usage; user messages carry a clientMessageId and a sentiment.
 */
function insertMessages(from: number, to: number): string {
  const { blockMessages: block, conversationsPerBlock: active } = SEED;
  const question = `repeat('Hola, quería saber cuánto rinde un plazo fijo a treinta días y si conviene más que el dólar. ', 5)`;
  const answer = `repeat('Claro: el plazo fijo paga una tasa nominal anual que conviene comparar con la inflación esperada del mes. ', 10)`;
  return `
    INSERT INTO messages (id, conversation_id, user_id, role, content, status, client_message_id,
      in_reply_to, model, finish_reason, prompt_tokens, completion_tokens, usage_estimated,
      sentiment_label, sentiment_score, created_at, updated_at)
    SELECT md5('message-' || g)::uuid,
           md5('conversation-' || c)::uuid,
           ${ownerOf('c')},
           CASE WHEN assistant THEN 'assistant' ELSE 'user' END,
           CASE WHEN assistant THEN substr(${answer}, 1 + g % 97, 120 + g % 480)
                ELSE substr(${question}, 1 + g % 89, 20 + g % 180) END,
           'complete',
           CASE WHEN NOT assistant THEN 'client-' || g END,
           CASE WHEN assistant THEN md5('message-' || (g - ${active}))::uuid END,
           CASE WHEN assistant THEN 'gpt-4o-mini' END,
           CASE WHEN assistant THEN 'stop' END,
           CASE WHEN assistant THEN 200 + g % 800 END,
           CASE WHEN assistant THEN 30 + g % 120 END,
           CASE WHEN assistant THEN false END,
           CASE WHEN NOT assistant THEN (ARRAY['positive', 'neutral', 'negative'])[1 + g % 3] END,
           CASE WHEN NOT assistant THEN ((g % 21) - 10) / 10.0 END,
           ${timeOf('g')}, ${timeOf('g')}
    FROM generate_series(${from}, ${to}) AS g,
         LATERAL (SELECT (g / ${block}) * ${active} + g % ${active} AS c,
                         (g % ${block}) / ${active} % 2 = 1 AS assistant) AS shape`;
}

function progress(line: string): void {
  process.stderr.write(`bench history: ${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// The pages, and how each side fetches them.

/**
 * The heavy user's first page and pages at depths spread down the history. The SQL is built by
 * Charla's own `HistoryService.pageQuery`, as `list()` calls it (limit + 1, to know whether a next
 * page exists), so the baseline follows any change to the query.
 */
async function historyPages(pool: Pool): Promise<Page[]> {
  const depths = Array.from({ length: PAGES }, (_, i) => i * PAGE_STEP);
  const cursors = await cursorPositions(pool, depths.slice(1));
  const dataSource = await new DataSource({
    type: 'postgres',
    url: DATABASE_URL,
    entities: [MessageEntity],
    poolSize: 1,
  }).initialize();
  try {
    // pageQuery reads only the DataSource; the other collaborators serve erase().
    const history = new HistoryService(dataSource, unused(), unused(), unused(), unused());
    return depths.map((depth) => {
      const before = cursors.get(depth);
      const [sql, params] = history
        .pageQuery(SEED.heavyUser, PAGE_SIZE + 1, before)
        .getQueryAndParameters();
      const query = before === undefined ? '' : `&before=${encodeCursor(String(before))}`;
      const path = `/api/chat/history/${SEED.heavyUser}?limit=${PAGE_SIZE}${query}`;
      return { depth, path, sql, params };
    });
  } finally {
    await dataSource.destroy();
  }
}

function unused(): never {
  return undefined as never;
}

/** For each depth d, the position of the user's d-th newest message: the page after it starts below. */
async function cursorPositions(pool: Pool, depths: number[]): Promise<Map<number, number>> {
  const { rows } = await pool.query(
    `SELECT rank::int, position::int FROM (
       SELECT position, row_number() OVER (ORDER BY position DESC) AS rank
       FROM messages WHERE user_id = $1) AS ranked
     WHERE rank = ANY($2)`,
    [SEED.heavyUser, depths],
  );
  return new Map(rows.map((r: { rank: number; position: number }) => [r.rank, r.position]));
}

/** Charla's JSON body for one page, asked as the user's app would; anything but a 200 throws. */
type CharlaGet = (page: Page) => Promise<string>;

function charlaClient(baseUrl: string, agent: Agent): CharlaGet {
  const headers = { authorization: `Bearer ${signToken(SEED.heavyUser, { secret: JWT_SECRET })}` };
  return async (page) => {
    const { status, body } = await httpGet(`${baseUrl}${page.path}`, agent, headers);
    if (status !== 200) throw new Error(`GET ${page.path} answered ${status}: ${body}`);
    return body;
  };
}

/** A GET over the keep-alive agent, read to the body's last byte. */
function httpGet(
  url: string,
  agent: Agent,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent, headers, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/** Both sides must return the same messages, or the comparison means nothing. */
async function assertSamePages(get: CharlaGet, pool: Pool, pages: Page[]): Promise<void> {
  for (const page of pages) {
    const charlaIds = (JSON.parse(await get(page)).data as { id: string }[]).map((m) => m.id);
    const { rows } = await pool.query(page.sql, page.params);
    const rawIds = rows.slice(0, PAGE_SIZE).map((r: { m_id: string }) => r.m_id);
    if (charlaIds.length !== PAGE_SIZE || charlaIds.join() !== rawIds.join()) {
      throw new Error(`Charla and raw pg disagree on the page at depth ${page.depth}`);
    }
  }
}

/** The plan of one page's query, run for real: its nodes top-down, rows, buffers and time. */
async function explainPage(pool: Pool, page: Page): Promise<string> {
  const { rows } = await pool.query(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${page.sql}`,
    page.params,
  );
  const [{ Plan: plan, 'Execution Time': ms }] = rows[0]['QUERY PLAN'];
  const nodes: string[] = [];
  for (let node = plan; node; node = node.Plans?.[0]) {
    nodes.push(
      node['Index Name'] ? `${node['Node Type']} using ${node['Index Name']}` : node['Node Type'],
    );
  }
  return (
    `${nodes.join(' → ')}; ${plan['Actual Rows']} rows, ` +
    `${plan['Shared Hit Blocks']} buffers hit and ${plan['Shared Read Blocks']} read, ` +
    `${ms.toFixed(2)} ms execution (page at depth ${page.depth.toLocaleString('en')})`
  );
}

// ---------------------------------------------------------------------------------------------
// Measurement.

/** Every page on both sides, alone and 8 at a time: JIT, connection pools and caches warm. */
async function warmUp(charla: Fetch, raw: Fetch, pages: Page[], deadline: number): Promise<void> {
  for (const fetch of [charla, raw]) {
    await timeSequential(fetch, pages, 2 * pages.length, deadline);
    await timeConcurrent(fetch, pages, 50, deadline);
  }
}

/** Charla and the baseline in alternating rounds, so that drift in the machine hits both alike. */
async function compare(
  charla: Fetch,
  raw: Fetch,
  rounds: number,
  measure: (fetch: Fetch) => Promise<number[]>,
): Promise<Latencies> {
  const latencies: Latencies = { charla: [], raw: [] };
  for (let round = 0; round < rounds; round++) {
    latencies.charla.push(...(await measure(charla)));
    latencies.raw.push(...(await measure(raw)));
  }
  return latencies;
}

/** `count` pages one after another, cycling through the pages from `offset`; latencies in ms. */
async function timeSequential(
  fetch: Fetch,
  pages: Page[],
  count: number,
  deadline: number,
  offset = 0,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    const page = pages[(offset + i) % pages.length];
    const started = performance.now();
    await fetch(page);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/** CLIENTS sequential clients at once, each starting at a different page. */
async function timeConcurrent(
  fetch: Fetch,
  pages: Page[],
  perClient: number,
  deadline: number,
): Promise<number[]> {
  const stride = Math.floor(pages.length / CLIENTS);
  const clients = Array.from({ length: CLIENTS }, (_, k) =>
    timeSequential(fetch, pages, perClient, deadline, k * stride),
  );
  return (await Promise.all(clients)).flat();
}

// ---------------------------------------------------------------------------------------------
// Report.

function figures(sequential: Latencies, concurrent: Latencies): Figure[] {
  const sequentialP99 = percentile(sequential.charla, 99);
  const concurrentP99 = percentile(concurrent.charla, 99);
  return [
    {
      name: 'p99, 1 client',
      value: sequentialP99,
      baseline: percentile(sequential.raw, 99),
      unit: 'ms',
      target: 'ratio ≤ 2',
      met: sequentialP99 <= 2 * percentile(sequential.raw, 99),
    },
    {
      name: `p99, ${CLIENTS} concurrent`,
      value: concurrentP99,
      baseline: percentile(concurrent.raw, 99),
      unit: 'ms',
      target: '≤ 10 ms',
      met: concurrentP99 <= 10,
    },
  ];
}

function describeMethod(
  seeding: string,
  plan: string,
  sequential: Latencies,
  concurrent: Latencies,
): string {
  const ms = (values: number[], p: number) => `${percentile(values, p).toFixed(2)} ms`;
  return [
    `Data: ${SEED.messages.toLocaleString('en')} messages in ${CONVERSATIONS.toLocaleString('en')}`,
    `conversations of 100 messages (user and assistant alternating, realistic columns: content of`,
    `20-600 characters, usage, sentiment, clientMessageId) owned by ${SEED.users.toLocaleString('en')}`,
    `users, in PostgreSQL database \`charla_bench\` with Charla's own migrations (all indexes in`,
    `place during the load); ${SEED.conversationsPerBlock} conversations are active at a time, so`,
    `users' messages interleave. The measured user owns every ${SEED.heavyEvery}th conversation,`,
    `${HEAVY_MESSAGES.toLocaleString('en')} messages spread over the whole table (a page's 50 rows`,
    `sit on 50 different heap pages). This run ${seeding}.`,
    `Pages: the user's first page and ${PAGES - 1} \`before=\` cursors every`,
    `${PAGE_STEP.toLocaleString('en')} messages down to depth`,
    `${((PAGES - 1) * PAGE_STEP).toLocaleString('en')}, cycled in the same order on both sides.`,
    `Charla: the built server (its own process, PostgreSQL pool of ${POOL_SIZE}, Redis for the`,
    `per-IP and per-user rate limits: two round trips per request, limits raised out of the way,`,
    `LOG_LEVEL=warn), \`GET /api/chat/history/:userId?limit=50\``,
    `with the user's JWT over keep-alive HTTP, timed to the body's last byte. Baseline: a \`pg\` Pool`,
    `of ${POOL_SIZE} in the bench process running the same SQL with the same parameters, built by`,
    `Charla's \`HistoryService.pageQuery\` (LIMIT 51 on \`user_id = $1 AND position < $2\`, newest first);`,
    `both sides were checked to return the same messages. After a warm-up of every page on both`,
    `sides, Charla and the baseline ran in alternating rounds: ${sequential.charla.length} and`,
    `${sequential.raw.length} sequential requests (p50 ${ms(sequential.charla, 50)} vs`,
    `${ms(sequential.raw, 50)}), then ${CLIENTS} clients at once for ${concurrent.charla.length} and`,
    `${concurrent.raw.length} requests (p50 ${ms(concurrent.charla, 50)} vs ${ms(concurrent.raw, 50)}).`,
    `Plan (EXPLAIN ANALYZE, BUFFERS of the baseline's query): ${plan}.`,
  ].join(' ');
}
