import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/backends';
import { chatSuite, connectSocketIo } from '../support/chat-clients';
import type { StorageSetup } from '../support/test-app';
import { newUserId, signToken } from '../support/tokens';

const realBackends = process.env.CHARLA_TEST_REAL_BACKENDS !== '0';
const postgres: StorageSetup = {
  name: 'PostgreSQL + Redis',
  env: () => ({ DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL }),
};
/** Time for writes that would come after chat:done (memory, summary, sentiment) to land too. */
const LATE_WRITES_MS = 300;

/**
 * What a reply costs PostgreSQL (issue 4): one INSERT of the assistant row as `streaming` and one
 * UPDATE that finishes it, however many deltas it streamed and however it ended — never a write per
 * token. A trigger logs every write to an assistant row. PostgreSQL only: the log is read over a
 * connection of the test's own, which the embedded database cannot take; both run the same code.
 */
(realBackends ? describe : describe.skip)('Assistant message writes [PostgreSQL + Redis]', () => {
  // Coalescing off: each of the 50 upstream chunks is its own delta.
  const suite = chatSuite(postgres);
  const { fake } = suite;
  const db = new Client({ connectionString: TEST_DATABASE_URL });
  // Own names, so that nothing else using this database can clash with them.
  const log = `test_assistant_writes_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

  beforeAll(async () => {
    await db.connect();
    // After chatSuite's beforeAll: the app's migrations have created `messages`.
    await db.query(`
      CREATE UNLOGGED TABLE ${log} (n serial, message_id uuid, op text, status text);
      CREATE FUNCTION ${log}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.role = 'assistant' THEN
            INSERT INTO ${log} (message_id, op, status) VALUES (NEW.id, TG_OP, NEW.status);
          END IF;
          RETURN NEW;
        END $$;
      CREATE TRIGGER ${log} AFTER INSERT OR UPDATE ON messages
        FOR EACH ROW EXECUTE FUNCTION ${log}();`);
  });
  afterAll(async () => {
    await db.query(`
      DROP TRIGGER IF EXISTS ${log} ON messages;
      DROP FUNCTION IF EXISTS ${log}();
      DROP TABLE IF EXISTS ${log};`);
    await db.end();
  });

  /** Every write to the reply's row so far, in order, with the status it wrote. */
  const writesTo = async (replyId: string): Promise<[string, string][]> => {
    const { rows } = await db.query<{ op: string; status: string }>(
      `SELECT op, status FROM ${log} WHERE message_id = $1 ORDER BY n`,
      [replyId],
    );
    return rows.map((r) => [r.op, r.status]);
  };

  const chunks = Array.from({ length: 50 }, (_, i) => ` t${i + 1}`);
  const send = (content: string) => ({ clientMessageId: randomUUID(), content });

  it('writes a 50-delta reply twice: INSERT as streaming, UPDATE as complete', async () => {
    const client = await connectSocketIo(suite.app.url, { token: signToken(newUserId()) });
    fake.enqueue({ chunks, tokenDelayMs: 1 });

    const ack = await client.request('chat:send', send('Contá hasta cincuenta'));
    const reply = await client.collectReply(ack.replyId);
    await sleep(LATE_WRITES_MS);

    expect(reply.deltas).toHaveLength(50);
    expect(reply.done).toMatchObject({ status: 'complete', content: chunks.join('') });
    expect(await writesTo(ack.replyId)).toEqual([
      ['INSERT', 'streaming'],
      ['UPDATE', 'complete'],
    ]);
  });

  it('writes an aborted reply twice: INSERT as streaming, UPDATE as aborted', async () => {
    const client = await connectSocketIo(suite.app.url, { token: signToken(newUserId()) });
    fake.enqueue({ chunks, tokenDelayMs: 20 });

    const ack = await client.request('chat:send', send('Contá despacio'));
    await client.next('chat:delta', (d) => d.seq === 10);
    expect(await client.request('chat:abort', { replyId: ack.replyId })).toEqual({
      ok: true,
      status: 'aborted',
    });
    const reply = await client.collectReply(ack.replyId);
    await sleep(LATE_WRITES_MS);

    expect(reply.done).toMatchObject({ status: 'aborted', content: reply.text });
    expect(await writesTo(ack.replyId)).toEqual([
      ['INSERT', 'streaming'],
      ['UPDATE', 'aborted'],
    ]);
  });

  it('writes a reply whose upstream dropped mid-stream twice: INSERT as streaming, UPDATE as failed', async () => {
    const client = await connectSocketIo(suite.app.url, { token: signToken(newUserId()) });
    fake.enqueue({ chunks, tokenDelayMs: 1, dropAfterChunks: 30 });

    const ack = await client.request('chat:send', send('Contá y cortate'));
    const reply = await client.collectReply(ack.replyId);
    await sleep(LATE_WRITES_MS);

    expect(reply.deltas).toHaveLength(30);
    expect(reply.error).toBeDefined();
    expect(await writesTo(ack.replyId)).toEqual([
      ['INSERT', 'streaming'],
      ['UPDATE', 'failed'],
    ]);
  });
});
