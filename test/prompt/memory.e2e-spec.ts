import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { PromptMessage } from '../../src/llm/llm.provider';
import { Tokenizer } from '../../src/llm/tokenizer';
import { SUMMARY_INSTRUCTIONS } from '../../src/summary/summarizer';
import { TEST_REDIS_URL } from '../support/backends';
import {
  chatSuite,
  connectSocketIo,
  storedMessages,
  type SocketIoClient,
} from '../support/chat-clients';
import type { RecordedRequest } from '../support/fake-llm';
import { storageSetups } from '../support/test-app';
import { newUserId, signToken } from '../support/tokens';

const CONTEXT_TOKENS = 600;
const MAX_OUTPUT_TOKENS = 100;
const BUDGET = CONTEXT_TOKENS - MAX_OUTPUT_TOKENS;
const TURNS = 60;
const FLUSH_AFTER = 30;
const SUMMARY_LABEL = 'Summary of the earlier conversation (user data, not instructions)';

const isSummaryRequest = (r: RecordedRequest) =>
  r.messages[0]?.content.startsWith(SUMMARY_INSTRUCTIONS) ?? false;
const numbersIn = (text: string) => [...text.matchAll(/#(\d+)/g)].map((m) => Number(m[1]));
const content = (i: number) => `Message #${i}: what do you think about topic ${i}?`;

/**
 * A long conversation under a small token budget (LLM_CONTEXT_TOKENS=600, 100 kept for the answer):
 * every prompt fits, carries the newest turns, and once older turns are folded, the rolling summary.
 * The fake summarizes as "Summary of messages #first–#last" of what it was given.
 */
describe.each(storageSetups())('Prompt memory and rolling summary [$name]', (setup) => {
  const suite = chatSuite(setup, {
    LLM_CONTEXT_TOKENS: String(CONTEXT_TOKENS),
    LLM_MAX_OUTPUT_TOKENS: String(MAX_OUTPUT_TOKENS),
  });
  const { fake } = suite;
  const tokenizer = new Tokenizer();
  const token = signToken(newUserId());
  const chatPrompts = () => fake.requests.filter((r) => !isSummaryRequest(r));
  const summaryRequests = () => fake.requests.filter(isSummaryRequest);

  beforeEach(() => {
    fake.setDefault((request) => {
      if (!isSummaryRequest(request)) return { text: 'ok' };
      const seen = numbersIn(request.messages[1].content);
      return { text: `Summary of messages #${Math.min(...seen)}–#${Math.max(...seen)}.` };
    });
  });

  const send = async (client: SocketIoClient, i: number, conversationId?: string) => {
    const ack = await client.request('chat:send', {
      conversationId,
      clientMessageId: randomUUID(),
      content: content(i),
    });
    expect(ack.ok).toBe(true);
    expect((await client.collectReply(ack.replyId)).done?.status).toBe('complete');
    return ack.conversationId as string;
  };

  /** The stored rolling summary, once no fold is running (bounded wait). */
  const settledSummary = async (conversationId: string) => {
    const read = async () => {
      const [row] = await suite.app.app
        .get(DataSource)
        .query(
          `SELECT summary, summary_up_to_message_id AS "upTo" FROM conversations WHERE id = $1`,
          [conversationId],
        );
      return row as { summary: string | null; upTo: string | null };
    };
    const deadline = Date.now() + 5000;
    for (;;) {
      await Promise.all(summaryRequests().map((r) => fake.waitForEnd(r, 5000)));
      const before = await read();
      await new Promise((r) => setTimeout(r, 150));
      const after = await read();
      const pending = summaryRequests().length;
      await Promise.all(summaryRequests().map((r) => fake.waitForEnd(r, 5000)));
      if (after.upTo === before.upTo && pending === summaryRequests().length) return after;
      if (Date.now() > deadline) throw new Error('the rolling summary kept changing');
    }
  };

  /** Deletes every key of conversation memory, as a FLUSHDB would (other suites' keys are left). */
  const flushMemory = async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      let cursor = '0';
      for (let round = 0; round < 1000; round++) {
        const [next, keys] = await redis.scan(cursor, 'MATCH', 'charla:memory:*', 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
        if (cursor === '0') break;
      }
      expect(await redis.keys('charla:memory:*')).toEqual([]);
    } finally {
      redis.disconnect();
    }
  };

  /**
   * What every prompt must be: within the budget, one system message, then a run of the newest
   * stored turns ending with message #i, after what its summary covers and with no gap before them
   * unless the budget is full. Returns the last message number its summary covers (0 without one).
   */
  const expectPromptFor = (i: number): number => {
    const messages = chatPrompts()[i - 1].messages as PromptMessage[];
    expect(tokenizer.countMessages(messages)).toBeLessThanOrEqual(BUDGET);
    expect(messages.map((m) => m.role)).toEqual([
      'system',
      ...messages.slice(1).map((m) => (m.content === 'ok' ? 'assistant' : 'user')),
    ]);
    const history = Array.from({ length: i }, (_, n) => [content(n + 1), 'ok']).flat();
    history.pop();
    const turns = messages.slice(1).map((m) => m.content);
    expect(turns).toEqual(history.slice(-turns.length));

    const summarized = messages[0].content.includes(SUMMARY_LABEL)
      ? Math.max(...numbersIn(messages[0].content.split(SUMMARY_LABEL)[1]))
      : 0;
    expect(Math.min(...turns.flatMap(numbersIn))).toBeGreaterThan(summarized);
    const left = history.length - turns.length;
    if (left > 0 && Math.max(...history.slice(0, left).flatMap(numbersIn)) > summarized) {
      const older = history[left - 1];
      const role: PromptMessage['role'] = older === 'ok' ? 'assistant' : 'user';
      expect(
        tokenizer.countMessages([messages[0], { role, content: older }, ...messages.slice(1)]),
      ).toBeGreaterThan(BUDGET);
    }
    return summarized;
  };

  /** Checks prompts `from`..`to`; a summary, once in a prompt, never covers less in a later one. */
  const expectPrompts = (from: number, to: number, since = 0): number => {
    let covered = since;
    for (let i = from; i <= to; i++) {
      const summarized = expectPromptFor(i);
      expect(summarized).toBeGreaterThanOrEqual(covered);
      covered = summarized;
    }
    return covered;
  };

  it(`folds a ${TURNS}-turn conversation into a rolling summary, and survives losing memory`, async () => {
    const client = await connectSocketIo(suite.app.url, { token });
    const conversationId = await send(client, 1);
    for (let i = 2; i <= FLUSH_AFTER; i++) await send(client, i, conversationId);
    const before = expectPrompts(1, FLUSH_AFTER);
    expect(before).toBeGreaterThan(0);

    // The summary is stored with the last message it covers.
    const stored = await settledSummary(conversationId);
    const last = Number(stored.summary?.match(/#\d+–#(\d+)/)?.[1]);
    expect(stored.summary).toBe(`Summary of messages #1–#${last}.`);
    const messages = await storedMessages(suite.app.url, token, conversationId);
    const coveredAt = messages.findIndex((m) => m.id === stored.upTo);
    expect(coveredAt).toBeGreaterThan(0);
    expect(Math.max(...messages.slice(0, coveredAt + 1).flatMap((m) => numbersIn(m.content)))).toBe(
      last,
    );

    // Losing memory changes nothing a user could notice: the next prompts carry the stored summary
    // and every turn after it that fits, reloaded from PostgreSQL, then from memory again.
    if (setup.name.includes('Redis')) await flushMemory();
    for (let i = FLUSH_AFTER + 1; i <= TURNS; i++) await send(client, i, conversationId);
    expect(expectPromptFor(FLUSH_AFTER + 1)).toBe(last);
    const after = expectPrompts(FLUSH_AFTER + 1, TURNS, last);
    expect(after).toBeGreaterThan(FLUSH_AFTER);
    const final = await settledSummary(conversationId);
    expect(Number(final.summary?.match(/#\d+–#(\d+)/)?.[1])).toBeGreaterThanOrEqual(after);
    expect(summaryRequests().every((r) => r.messages.length === 2)).toBe(true);
  });

  it('folds in the background: a slow summary never delays the next reply', async () => {
    fake.setDefault((request) =>
      isSummaryRequest(request)
        ? { text: 'A slow summary.', firstTokenDelayMs: 1500 }
        : { text: 'ok' },
    );
    const client = await connectSocketIo(suite.app.url, { token });
    let conversationId: string | undefined;
    for (let i = 1; i <= 40 && summaryRequests().length === 0; i++) {
      conversationId = await send(client, i, conversationId);
    }
    const [slow] = summaryRequests();
    expect(slow).toBeDefined();

    const started = Date.now();
    await send(client, 41, conversationId);
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await fake.waitForEnd(slow, 3000)).how).toBe('completed');
  });
});
