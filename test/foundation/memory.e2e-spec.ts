import Redis from 'ioredis';
import { CacheStore } from '../../src/memory/cache.store';
import { ConversationMemory, type MemoryTurn } from '../../src/memory/conversation-memory';
import { InMemoryConversationMemory } from '../../src/memory/in-memory.conversation-memory';
import { InMemoryCacheStore } from '../../src/memory/in-memory.cache.store';
import { InMemoryPubSub } from '../../src/memory/in-memory.pub-sub';
import { PubSub } from '../../src/memory/pub-sub';
import { RedisPubSub } from '../../src/memory/redis.pub-sub';
import { RedisCacheStore } from '../../src/memory/redis.cache.store';
import { RedisConversationMemory } from '../../src/memory/redis.conversation-memory';
import { TEST_REDIS_URL } from '../support/backends';
import { newUserId } from '../support/tokens';
import { waitFor } from '../support/wait';

const stores: [string, () => CacheStore][] = [['in-process', () => new InMemoryCacheStore()]];
if (process.env.CHARLA_TEST_REAL_BACKENDS !== '0') {
  stores.push(['Redis', () => new RedisCacheStore(new Redis(TEST_REDIS_URL))]);
}

/** Both implementations of the port behave the same, so business code never asks which it has. */
describe.each(stores)('CacheStore contract [%s]', (_, make) => {
  let store: CacheStore;
  const key = (name: string) => `charla:test:${newUserId(name)}`;

  beforeEach(() => {
    store = make();
  });
  afterEach(async () => {
    if (store instanceof RedisCacheStore) store.redis.disconnect();
    if (store instanceof InMemoryCacheStore) store.onModuleDestroy();
  });

  it('stores, expires and deletes values', async () => {
    const k = key('value');
    expect(await store.get(k)).toBeNull();
    await store.set(k, 'v', 80);
    expect(await store.get(k)).toBe('v');
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.get(k)).toBeNull();
    await store.set(k, 'again');
    await store.delete(k);
    expect(await store.get(k)).toBeNull();
  });

  it('sets a key only once among concurrent callers', async () => {
    const k = key('once');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.setIfAbsent(k, String(i), 10_000)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('counts within a fixed window that starts with the first increment', async () => {
    const k = key('count');
    const counts = await Promise.all(Array.from({ length: 5 }, () => store.increment(k, 200)));
    expect(counts.map((c) => c.count).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(counts.every((c) => c.ttlMs > 0 && c.ttlMs <= 200)).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    expect((await store.increment(k, 200)).count).toBe(1);
  });

  it('hands out at most `limit` slots, frees released and expired ones', async () => {
    const k = key('slots');
    const taken = await Promise.all(
      ['a', 'b', 'c', 'd'].map((m) => store.acquireSlot(k, m, 2, 150)),
    );
    expect(taken.filter(Boolean)).toHaveLength(2);
    const holder = ['a', 'b', 'c', 'd'][taken.indexOf(true)];
    expect(await store.acquireSlot(k, holder, 2, 150)).toBe(true); // re-entrant for the same member
    await store.releaseSlot(k, holder);
    expect(await store.acquireSlot(k, 'e', 2, 150)).toBe(true);
    expect(await store.acquireSlot(k, 'f', 2, 150)).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(await store.acquireSlot(k, 'f', 2, 150)).toBe(true);
  });

  it('answers a ping', async () => {
    expect(await store.ping()).toBe(true);
  });
});

const buses: [string, () => { bus: PubSub; close(): void }][] = [
  ['in-process', () => ({ bus: new InMemoryPubSub(), close: () => undefined })],
];
if (process.env.CHARLA_TEST_REAL_BACKENDS !== '0') {
  buses.push([
    'Redis',
    () => {
      const publisher = new Redis(TEST_REDIS_URL);
      const subscriber = publisher.duplicate();
      return {
        bus: new RedisPubSub(publisher, subscriber),
        close: () => [publisher, subscriber].forEach((r) => r.disconnect()),
      };
    },
  ]);
}

describe.each(buses)('PubSub contract [%s]', (_, make) => {
  it('delivers to every subscriber of the channel, in order, until it unsubscribes', async () => {
    const { bus, close } = make();
    const channel = `charla:test:${newUserId('channel')}`;
    const first: string[] = [];
    const second: string[] = [];
    const unsubscribeFirst = await bus.subscribe(channel, (m) => first.push(m));
    await bus.subscribe(channel, (m) => second.push(m));
    for (const m of ['a', 'b', 'c']) await bus.publish(channel, m);
    await waitFor(() => second.length === 3);
    expect(first).toEqual(['a', 'b', 'c']);
    expect(second).toEqual(['a', 'b', 'c']);

    await unsubscribeFirst();
    await bus.publish(channel, 'd');
    await waitFor(() => second.length === 4);
    expect(first).toEqual(['a', 'b', 'c']);
    close();
  });
});

if (process.env.CHARLA_TEST_REAL_BACKENDS !== '0') {
  it('keeps deployments on different Redis databases apart, though Redis channels are global', async () => {
    const open = (db: number) => {
      const url = new URL(TEST_REDIS_URL);
      url.pathname = `/${db}`;
      const publisher = new Redis(url.toString());
      const subscriber = publisher.duplicate();
      return { bus: new RedisPubSub(publisher, subscriber), connections: [publisher, subscriber] };
    };
    const a = open(14);
    const b = open(15);
    const channel = `charla:test:${newUserId('channel')}`;
    const heardByA: string[] = [];
    const heardByB: string[] = [];
    await a.bus.subscribe(channel, (m) => heardByA.push(m));
    await b.bus.subscribe(channel, (m) => heardByB.push(m));
    await a.bus.publish(channel, 'for a');
    await b.bus.publish(channel, 'for b');
    await waitFor(() => heardByA.length === 1 && heardByB.length === 1);
    // A later message on each proves nothing else was still on its way.
    await a.bus.publish(channel, 'end');
    await waitFor(() => heardByA.length === 2);
    expect(heardByA).toEqual(['for a', 'end']);
    expect(heardByB).toEqual(['for b']);
    for (const connection of [...a.connections, ...b.connections]) connection.disconnect();
  });
}

interface MemoryOptions {
  ttlMs?: number;
  maxTurns?: number;
}

const memories: [
  string,
  (options?: MemoryOptions) => { memory: ConversationMemory; close(): void },
][] = [
  [
    'in-process',
    (o = {}) => {
      const memory = new InMemoryConversationMemory(o.ttlMs, o.maxTurns);
      return { memory, close: () => memory.onModuleDestroy() };
    },
  ],
];
if (process.env.CHARLA_TEST_REAL_BACKENDS !== '0') {
  memories.push([
    'Redis',
    (o = {}) => {
      const redis = new Redis(TEST_REDIS_URL);
      return {
        memory: new RedisConversationMemory(redis, o.ttlMs, o.maxTurns),
        close: () => redis.disconnect(),
      };
    },
  ]);
}

/** Both implementations keep a conversation's turns in order and never store a stale reload. */
describe.each(memories)('ConversationMemory contract [%s]', (_, make) => {
  let memory: ConversationMemory;
  let close: () => void;
  let conversationId: string;
  let userId: string;
  const turn = (
    position: number,
    role: MemoryTurn['role'] = position % 2 ? 'user' : 'assistant',
  ) => ({
    id: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
    position,
    role,
    content: `${role} says ${position}`,
    tokens: 5,
  });
  const positions = (turns: MemoryTurn[] | undefined) => turns?.map((t) => t.position);
  const use = (options?: MemoryOptions) => {
    close?.();
    ({ memory, close } = make(options));
  };

  beforeEach(() => {
    use();
    conversationId = newUserId('conversation');
    userId = newUserId('user');
  });
  afterEach(() => close());

  it('misses until filled, then keeps turns in position order whenever they arrive', async () => {
    const first = await memory.recall(conversationId, userId, turn(3));
    expect(first).toMatchObject({ conversation: null, profile: null });
    await memory.fill(conversationId, userId, first.ticket, {
      conversation: { summary: null, turns: [turn(1), turn(2), turn(3)] },
      profile: { name: 'Ana' },
    });
    await memory.append(conversationId, turn(4));
    const next = await memory.recall(conversationId, userId, turn(5));
    expect(positions(next.conversation?.turns)).toEqual([1, 2, 3, 4, 5]);
    expect(next.conversation?.turns[4]).toEqual(turn(5));
    expect(next.profile).toEqual({ name: 'Ana' });
    await memory.append(conversationId, turn(6));

    // Two sends in flight (messages 7 and 9, replies 8 and 10): the second finds the first's reply
    // missing, so it is reloaded (reply 8 still streaming), and the replies land in reverse order.
    expect((await memory.recall(conversationId, userId, turn(7))).conversation).not.toBeNull();
    const second = await memory.recall(conversationId, userId, turn(9));
    expect(second.conversation).toBeNull();
    await memory.fill(conversationId, userId, second.ticket, {
      conversation: { summary: null, turns: [1, 2, 3, 4, 5, 6, 7, 9].map((p) => turn(p)) },
    });
    await memory.append(conversationId, turn(10));
    await memory.append(conversationId, turn(8));
    const later = await memory.recall(conversationId, userId);
    expect(positions(later.conversation?.turns)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('folds: the summary replaces the turns it covers', async () => {
    const { ticket } = await memory.recall(conversationId, userId, turn(5));
    await memory.fill(conversationId, userId, ticket, {
      conversation: { summary: null, turns: [1, 2, 3, 4, 5].map((p) => turn(p)) },
      profile: {},
    });
    const summary = { text: 'They talked.', upToMessageId: turn(3).id, upToPosition: 3 };
    await memory.fold(conversationId, summary);
    const { conversation, profile } = await memory.recall(conversationId, userId);
    expect(conversation?.summary).toEqual(summary);
    expect(positions(conversation?.turns)).toEqual([4, 5]);
    expect(profile).toEqual({});
  });

  it('refuses a fill read before a change it does not contain', async () => {
    const stale = await memory.recall(conversationId, userId, turn(1));
    await memory.append(conversationId, turn(2));
    await memory.fill(conversationId, userId, stale.ticket, {
      conversation: { summary: null, turns: [turn(1)] },
    });
    expect((await memory.recall(conversationId, userId)).conversation).toBeNull();

    const beforeFold = await memory.recall(conversationId, userId, turn(3));
    await memory.fold(conversationId, { text: 's', upToMessageId: turn(1).id, upToPosition: 1 });
    await memory.fill(conversationId, userId, beforeFold.ticket, {
      conversation: { summary: null, turns: [turn(1), turn(2), turn(3)] },
    });
    expect((await memory.recall(conversationId, userId)).conversation).toBeNull();

    const beforeProfileChange = await memory.recall(conversationId, userId, turn(3));
    await memory.forgetProfile(userId);
    await memory.fill(conversationId, userId, beforeProfileChange.ticket, {
      profile: { name: 'old' },
    });
    expect((await memory.recall(conversationId, userId)).profile).toBeNull();
  });

  it('forgets an erased conversation and profile, and refuses reloads read before', async () => {
    const { ticket } = await memory.recall(conversationId, userId, turn(1));
    await memory.fill(conversationId, userId, ticket, {
      conversation: { summary: null, turns: [turn(1)] },
      profile: { name: 'Ana' },
    });
    const inFlight = await memory.recall(conversationId, newUserId('other'), turn(3));
    await memory.forgetConversation(conversationId);
    await memory.forgetProfile(userId);
    await memory.fill(conversationId, userId, inFlight.ticket, {
      conversation: { summary: null, turns: [turn(1), turn(3)] },
    });
    expect(await memory.recall(conversationId, userId)).toMatchObject({
      conversation: null,
      profile: null,
    });
  });

  it('takes no reload ticket on a plain read, so nothing read after it is filled', async () => {
    const peek = await memory.recall(conversationId, userId);
    await memory.fill(conversationId, userId, peek.ticket, {
      conversation: { summary: null, turns: [turn(1)] },
      profile: { name: 'Ana' },
    });
    expect(await memory.recall(conversationId, userId)).toMatchObject({
      conversation: null,
      profile: null,
    });
  });

  it("drops a conversation whose newest turn before the new message is still the user's", async () => {
    const { ticket } = await memory.recall(conversationId, userId, turn(1));
    await memory.fill(conversationId, userId, ticket, {
      conversation: { summary: null, turns: [turn(1)] },
    });
    // The reply to turn 1 never reached memory (its node died, or it was stored empty).
    expect((await memory.recall(conversationId, userId, turn(3))).conversation).toBeNull();
    // Dropped for every reader until a reload is filled, not only for the one that noticed.
    expect((await memory.recall(conversationId, userId)).conversation).toBeNull();
  });

  it('keeps the newest turns only, and forgets idle conversations', async () => {
    use({ maxTurns: 3, ttlMs: 150 });
    const { ticket } = await memory.recall(conversationId, userId, turn(1));
    await memory.fill(conversationId, userId, ticket, {
      conversation: { summary: null, turns: [1, 2, 3, 4].map((p) => turn(p)) },
      profile: {},
    });
    await memory.append(conversationId, turn(6));
    expect(positions((await memory.recall(conversationId, userId)).conversation?.turns)).toEqual([
      3, 4, 6,
    ]);
    await new Promise((r) => setTimeout(r, 250));
    expect(await memory.recall(conversationId, userId)).toMatchObject({
      conversation: null,
      profile: null,
    });
  });
});
