/**
 * SPEC §11's relay figures: token throughput, coalescing's delay, time to first token, memory per
 * idle socket, two nodes over Redis and PostgreSQL writes per reply. Charla's built server runs as
 * its own process on PostgreSQL and a private Redis; the baseline is the bare Socket.IO relay of
 * `bare-relay.ts`. Both relay the same fake OpenAI upstream, which runs in this process so that its
 * chunk timestamps and the clients' arrival times share one clock.
 */
import Redis from 'ioredis';
import { Client } from 'pg';
import { FakeLlm, type FakeReply, type RecordedRequest } from '../test/support/fake-llm';
import { PrivateRedis } from '../test/support/redis-server';
import { percentile, ratio, type Figure, type Section } from './report';
import {
  BareRelay,
  CharlaRelay,
  residentBytes,
  type Relay,
  type RelayClient,
  type ReplyTiming,
} from './relays';

const DATABASE_URL =
  process.env.BENCH_RELAY_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/charla_bench_relay';

/** Sizes of each scenario: large enough for stable medians and p99s, small enough for minutes. */
const THROUGHPUT = { streams: 20, tokens: 400, rounds: 3 };
const PACED = { streams: 10, tokens: 100, tokenDelayMs: 5 };
const FIRST_TOKEN = { sequential: 200, concurrent: 100, concurrentRounds: 3, warmup: 20 };
const IDLE_SOCKETS = 1000;

// ---------------------------------------------------------------------------------------------
// The upstream: each message says what reply it wants, and carries an id to find its request by.

let nextId = 0;

/** A message asking the fake upstream for `tokens` chunks, `tokenDelayMs` apart. */
function benchMessage(tokens: number, tokenDelayMs = 0): string {
  return `bench ${tokens} ${tokenDelayMs} #${++nextId}`;
}

function replyChunks(tokens: number): string[] {
  return Array.from({ length: tokens }, (_, i) => ` w${i}`);
}

function scriptFor(request: RecordedRequest): FakeReply {
  const last = request.messages.at(-1)?.content ?? '';
  const [, tokens, delay] = /bench (\d+) (\d+) #/.exec(last) ?? [, '3', '0'];
  return { chunks: replyChunks(Number(tokens)), tokenDelayMs: Number(delay), usage: true };
}

/** The upstream request that served the message with this id. */
function requestOf(fake: FakeLlm, message: string): RecordedRequest {
  const found = fake.requests.find((r) => r.messages.at(-1)?.content === message);
  if (!found) throw new Error(`no upstream request for "${message}"`);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Scenarios, each run the same way against Charla and the baseline.

interface Sent {
  message: string;
  timing: ReplyTiming;
}

async function sendChecked(client: RelayClient, tokens: number, delayMs = 0): Promise<Sent> {
  const message = benchMessage(tokens, delayMs);
  const timing = await client.send(message);
  const text = timing.deltas.map((d) => d.text).join('');
  if (text !== replyChunks(tokens).join('')) {
    throw new Error(`reply to "${message}" arrived altered (${text.length} chars)`);
  }
  return { message, timing };
}

async function connectMany(relay: Relay, count: number, prefix: string): Promise<RelayClient[]> {
  const clients: RelayClient[] = [];
  // A few at a time: a thousand simultaneous handshakes measure the handshake, not the relay.
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) =>
      relay.connect(`${prefix}-${i + j}`),
    );
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

/** Tokens per second with every client streaming one reply at once; the median of `rounds`. */
async function throughput(clients: RelayClient[], tokens: number, rounds: number): Promise<number> {
  await Promise.all(clients.map((c) => sendChecked(c, tokens))); // warm-up
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    await Promise.all(clients.map((c) => sendChecked(c, tokens)));
    rates.push((clients.length * tokens) / ((performance.now() - started) / 1000));
  }
  return percentile(rates, 50);
}

/** How long after the upstream wrote each chunk the client had it, in ms, over every reply. */
async function tokenDelays(fake: FakeLlm, clients: RelayClient[]): Promise<number[]> {
  const sent = await Promise.all(
    clients.map((c) => sendChecked(c, PACED.tokens, PACED.tokenDelayMs)),
  );
  return sent.flatMap(({ message, timing }) => {
    const chunks = requestOf(fake, message).timing.chunks;
    const delays: number[] = [];
    let received = 0;
    let chunk = 0;
    let written = 0;
    for (const delta of timing.deltas) {
      received += delta.text.length;
      // Every chunk whose last character has now arrived was delivered by this delta.
      while (chunk < chunks.length && written + chunks[chunk].text.length <= received) {
        written += chunks[chunk].text.length;
        delays.push(delta.at - chunks[chunk].at);
        chunk++;
      }
    }
    return delays;
  });
}

/** Time to first token beyond the upstream's own (its first chunk after the request), in ms. */
function addedFirstToken(fake: FakeLlm, { message, timing }: Sent): number {
  const upstream = requestOf(fake, message).timing;
  const upstreamOwn = upstream.chunks[0].at - upstream.received;
  return timing.deltas[0].at - timing.sentAt - upstreamOwn;
}

async function firstTokenSequential(fake: FakeLlm, client: RelayClient): Promise<number[]> {
  for (let i = 0; i < FIRST_TOKEN.warmup; i++) await sendChecked(client, 3);
  const added: number[] = [];
  for (let i = 0; i < FIRST_TOKEN.sequential; i++) {
    added.push(addedFirstToken(fake, await sendChecked(client, 3)));
  }
  return added;
}

async function firstTokenConcurrent(fake: FakeLlm, clients: RelayClient[]): Promise<number[]> {
  await Promise.all(clients.map((c) => sendChecked(c, 3)));
  const added: number[] = [];
  for (let round = 0; round < FIRST_TOKEN.concurrentRounds; round++) {
    const sent = await Promise.all(clients.map((c) => sendChecked(c, 3)));
    added.push(...sent.map((s) => addedFirstToken(fake, s)));
  }
  return added;
}

/**
 * Resident memory per idle connected socket, in KB. A first thousand sockets come and go before the
 * measurement, so that what a process allocates once (lazy start-up, pools, JIT) is not counted as
 * the sockets'.
 */
async function memoryPerSocket(relay: Relay): Promise<number> {
  const settle = () => new Promise((r) => setTimeout(r, 3000));
  (await connectMany(relay, IDLE_SOCKETS, 'warm')).forEach((c) => c.close());
  await settle();
  const before = residentBytes(relay.pid);
  const clients = await connectMany(relay, IDLE_SOCKETS, 'idle');
  await settle();
  const after = residentBytes(relay.pid);
  clients.forEach((c) => c.close());
  return (after - before) / IDLE_SOCKETS / 1024;
}

// ---------------------------------------------------------------------------------------------
// Infrastructure: a fresh database, a private Redis, Charla's environment.

async function freshDatabase(): Promise<void> {
  const url = new URL(DATABASE_URL);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
}

/** Counts each write to an assistant row, from inside PostgreSQL: what ORM logs cannot hide. */
async function countAssistantWrites<T>(work: () => Promise<T>): Promise<number> {
  const db = new Client({ connectionString: DATABASE_URL });
  await db.connect();
  try {
    await db.query(`
      CREATE UNLOGGED TABLE bench_assistant_writes (message_id uuid, op text);
      CREATE FUNCTION bench_log_assistant_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.role = 'assistant' THEN
            INSERT INTO bench_assistant_writes VALUES (NEW.id, TG_OP);
          END IF;
          RETURN NEW;
        END $$;
      CREATE TRIGGER bench_assistant_writes AFTER INSERT OR UPDATE ON messages
        FOR EACH ROW EXECUTE FUNCTION bench_log_assistant_write();`);
    await work();
    const { rows } = await db.query<{ per_message: string }>(
      `SELECT count(*)::float / nullif(count(DISTINCT message_id), 0) AS per_message
         FROM bench_assistant_writes`,
    );
    return Number(rows[0].per_message);
  } finally {
    await db.query(`DROP TRIGGER IF EXISTS bench_assistant_writes ON messages`).catch(() => null);
    await db.end();
  }
}

async function publishCount(redisUrl: string): Promise<number> {
  const redis = new Redis(redisUrl);
  try {
    const stats = await redis.info('commandstats');
    return Number(/cmdstat_publish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  } finally {
    redis.disconnect();
  }
}

function charlaEnv(fake: FakeLlm, redisUrl: string, env: Record<string, string> = {}) {
  return {
    DATABASE_URL,
    REDIS_URL: redisUrl,
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'bench',
    LLM_MODEL: 'bench-model',
    SHUTDOWN_GRACE_MS: '0',
    // The bench is one IP and sends far more than a person would; the limits are not measured here.
    RATE_LIMIT_CHAT: '100000000',
    RATE_LIMIT_IP: '100000000',
    RATE_LIMIT_HANDSHAKES: '100000000',
    ...env,
  };
}

async function withRelay<T>(start: Promise<Relay>, use: (relay: Relay) => Promise<T>): Promise<T> {
  const relay = await start;
  try {
    return await use(relay);
  } finally {
    await relay.stop();
  }
}

// ---------------------------------------------------------------------------------------------

interface Measured {
  tokensPerSecond: number;
  tokenDelays: number[];
  firstToken: number[];
  firstTokenConcurrent: number[];
  socketKb: number;
}

/** Every per-relay figure; memory first, on a process that has not carried load yet. */
async function measure(fake: FakeLlm, relay: Relay): Promise<Measured> {
  const socketKb = await memoryPerSocket(relay);
  const clients = await connectMany(relay, FIRST_TOKEN.concurrent, 'load');
  try {
    return {
      socketKb,
      tokensPerSecond: await throughput(
        clients.slice(0, THROUGHPUT.streams),
        THROUGHPUT.tokens,
        THROUGHPUT.rounds,
      ),
      tokenDelays: await tokenDelays(fake, clients.slice(0, PACED.streams)),
      firstToken: await firstTokenSequential(fake, clients[0]),
      firstTokenConcurrent: await firstTokenConcurrent(fake, clients),
    };
  } finally {
    clients.forEach((c) => c.close());
  }
}

function ms(values: number[], p: number): number {
  return percentile(values, p);
}

export async function relayBench(): Promise<Section[]> {
  const fake = await new FakeLlm(scriptFor).start();
  const redis = await new PrivateRedis().start();
  await freshDatabase();
  try {
    // Baseline first, then Charla unbatched (one event per upstream chunk), then with coalescing.
    const bare = await withRelay(BareRelay.start(fake.url), (relay) => measure(fake, relay));
    fake.reset();
    const unbatched = await withRelay(
      CharlaRelay.start('Charla unbatched', charlaEnv(fake, redis.url, { CHAT_COALESCE_MS: '0' })),
      (relay) => measure(fake, relay),
    );
    fake.reset();
    const coalesced = await twoNodeAndCoalescing(fake, redis.url);
    return report(bare, unbatched, coalesced);
  } finally {
    await redis.stop();
    await fake.stop();
  }
}

interface CoalescedRun {
  oneNode: number;
  twoNodes: number;
  publishesPerToken: number;
  tokenDelays: number[];
  /** Added time to first token with coalescing on: the leading edge goes out without waiting. */
  firstToken: number[];
  writesPerReply: number;
}

/** Charla with its default coalescing: one node, then two nodes sharing Redis and PostgreSQL. */
async function twoNodeAndCoalescing(fake: FakeLlm, redisUrl: string): Promise<CoalescedRun> {
  const env = charlaEnv(fake, redisUrl);
  const a = await CharlaRelay.start('node A', env);
  try {
    const b = await CharlaRelay.start('node B', { ...env, DB_MIGRATIONS_RUN: 'false' });
    try {
      const onA = await connectMany(a, THROUGHPUT.streams, 'one-node');
      const oneNode = await throughput(onA, THROUGHPUT.tokens, THROUGHPUT.rounds);
      const tokenDelaysCoalesced = await tokenDelays(fake, onA.slice(0, PACED.streams));
      const firstToken = await firstTokenSequential(fake, onA[0]);
      onA.forEach((c) => c.close());

      const half = THROUGHPUT.streams / 2;
      const split = [
        ...(await connectMany(a, half, 'two-nodes-a')),
        ...(await connectMany(b, half, 'two-nodes-b')),
      ];
      const publishesBefore = await publishCount(redisUrl);
      const twoNodes = await throughput(split, THROUGHPUT.tokens, THROUGHPUT.rounds);
      const published = (await publishCount(redisUrl)) - publishesBefore;
      // throughput() sends a warm-up round and `rounds` measured ones.
      const tokens = split.length * THROUGHPUT.tokens * (THROUGHPUT.rounds + 1);
      const writesPerReply = await countAssistantWrites(() =>
        Promise.all(split.map((c) => sendChecked(c, 50))),
      );
      split.forEach((c) => c.close());
      return {
        oneNode,
        twoNodes,
        publishesPerToken: published / tokens,
        tokenDelays: tokenDelaysCoalesced,
        firstToken,
        writesPerReply,
      };
    } finally {
      await b.stop();
    }
  } finally {
    await a.stop();
  }
}

function report(bare: Measured, unbatched: Measured, coalesced: CoalescedRun): Section[] {
  const setup =
    `Charla's built server runs as its own process on PostgreSQL and a private redis-server; the ` +
    `fake OpenAI upstream (test/support/fake-llm.ts) and the socket.io-client clients run in the ` +
    `bench process, so upstream chunk times and client arrival times share one clock. The baseline ` +
    `is bench/bare-relay.ts: a Socket.IO server that posts to the same upstream and emits one event ` +
    `per SSE chunk, with no auth, storage, limits or coalescing.`;
  const delayAdded = ms(coalesced.tokenDelays, 99) - ms(bare.tokenDelays, 99);
  return [
    {
      title: 'Token delivery throughput',
      method:
        `${setup} ${THROUGHPUT.streams} streams of ${THROUGHPUT.tokens} tokens at once, the upstream ` +
        `writing as fast as it can; the median of ${THROUGHPUT.rounds} rounds after a warm-up. ` +
        `Token delay: ${PACED.streams} streams of ${PACED.tokens} tokens ${PACED.tokenDelayMs} ms ` +
        `apart; for each token, the time from the upstream writing it to the client having it.`,
      figures: [
        ratioFigure(
          'tokens/s, unbatched (CHAT_COALESCE_MS=0)',
          unbatched.tokensPerSecond,
          bare.tokensPerSecond,
          0.85,
        ),
        ratioFigure(
          'tokens/s, coalesced (default 20 ms)',
          coalesced.oneNode,
          bare.tokensPerSecond,
          3,
        ),
        {
          name: 'p99 token delay added by coalescing',
          value: delayAdded,
          unit: 'ms',
          target: '≤ 20 ms',
          met: delayAdded <= 20,
        },
        info('p99 token delay, bare relay', ms(bare.tokenDelays, 99), 'ms'),
        info('p99 token delay, Charla unbatched', ms(unbatched.tokenDelays, 99), 'ms'),
        info('p99 token delay, Charla coalesced', ms(coalesced.tokenDelays, 99), 'ms'),
      ],
    },
    {
      title: 'Time to first token added over the upstream’s own',
      method:
        `For each send: (client's first delta − client's send) − (upstream's first chunk − upstream ` +
        `receiving the request). ${FIRST_TOKEN.sequential} sequential sends by one client after ` +
        `${FIRST_TOKEN.warmup} warm-ups, then ${FIRST_TOKEN.concurrentRounds} rounds of ` +
        `${FIRST_TOKEN.concurrent} clients sending at once. Charla's figure includes everything ` +
        `in front of the upstream call (auth is at the handshake; validation, rate limit and quota ` +
        `in Redis, storing the user message, building the prompt) and the relay back; the bare ` +
        `relay's is its floor on this machine.`,
      figures: [
        limitFigure('p50, 1 stream', ms(unbatched.firstToken, 50), ms(bare.firstToken, 50), 0.5),
        limitFigure('p99, 1 stream', ms(unbatched.firstToken, 99), ms(bare.firstToken, 99), 2),
        limitFigure(
          `p99, ${FIRST_TOKEN.concurrent} concurrent streams`,
          ms(unbatched.firstTokenConcurrent, 99),
          ms(bare.firstTokenConcurrent, 99),
          5,
        ),
        info(
          'p50, 1 stream, over the bare relay (what Charla itself adds)',
          ms(unbatched.firstToken, 50) - ms(bare.firstToken, 50),
          'ms',
        ),
        info('p50, 1 stream, coalescing on (default 20 ms)', ms(coalesced.firstToken, 50), 'ms'),
      ],
    },
    {
      title: 'Memory per idle authenticated socket',
      method:
        `Resident memory of the server process (/proc/<pid>/status VmRSS) before and after ` +
        `${IDLE_SOCKETS} Socket.IO clients connect over WebSocket (each Charla socket with its own ` +
        `user's JWT), divided by ${IDLE_SOCKETS}, after a first ${IDLE_SOCKETS} came and went and ` +
        `3 s of quiet. RSS includes garbage not yet collected, so this figure is the noisiest of ` +
        `the report.`,
      figures: [ratioFigure('KB per socket', unbatched.socketKb, bare.socketKb, 1.2, '≤')],
    },
    {
      title: 'Two nodes over Redis',
      method:
        `Charla with default coalescing. One node: ${THROUGHPUT.streams} streams on node A. Two ` +
        `nodes: half the clients on A, half on B, sharing PostgreSQL and Redis; each node publishes ` +
        `its replies' events on Redis and every node delivers them to its own sockets. Publishes ` +
        `are redis-server's own count (INFO commandstats) over the two-node rounds.`,
      figures: [
        ratioFigure('tokens/s, two nodes vs one', coalesced.twoNodes, coalesced.oneNode, 0.9),
        {
          name: 'Redis publishes per token',
          value: coalesced.publishesPerToken,
          unit: '',
          target: '≤ 0.2',
          met: coalesced.publishesPerToken <= 0.2,
        },
      ],
    },
    {
      title: 'Persistence',
      method:
        `PostgreSQL writes to each assistant message, counted by a trigger on the messages table ` +
        `while ${THROUGHPUT.streams} replies of 50 tokens stream. Charla has no persistence-off ` +
        `mode, so the "on vs off" throughput ratio is not measured on its own; the throughput ` +
        `ratios above compare Charla, which persists every reply, with a relay that stores nothing.`,
      figures: [
        {
          name: 'writes per assistant message',
          value: coalesced.writesPerReply,
          unit: '',
          target: '≤ 2',
          met: coalesced.writesPerReply <= 2,
        },
      ],
    },
  ];
}

/** A figure whose target is `value / baseline` ≥ (or ≤) `bound`. */
function ratioFigure(
  name: string,
  value: number,
  baseline: number,
  bound: number,
  direction: '≥' | '≤' = '≥',
): Figure {
  const r = ratio(value, baseline);
  return {
    name,
    value,
    baseline,
    unit: name.startsWith('KB') ? 'KB' : 'tokens/s',
    target: `ratio ${direction} ${bound}`,
    met: direction === '≥' ? r >= bound : r <= bound,
  };
}

/** A latency figure with an absolute bound, shown beside the baseline's. */
function limitFigure(name: string, value: number, baseline: number, bound: number): Figure {
  return { name, value, baseline, unit: 'ms', target: `≤ ${bound} ms`, met: value <= bound };
}

function info(name: string, value: number, unit: string): Figure {
  return { name, value, unit, target: '' };
}
