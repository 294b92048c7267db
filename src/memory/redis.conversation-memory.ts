import type Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import {
  ConversationMemory,
  FILL_LEASE_MS,
  MAX_MEMORY_TURNS,
  MEMORY_TTL_MS,
  type MemoryTurn,
  type ProfileData,
  type Recollection,
  type Reloaded,
  type RollingSummary,
} from './conversation-memory';

/**
 * Per conversation: a string (the rolling summary; its presence means "memory is loaded"), a sorted
 * set of turns scored by position (so replies land in order whenever they arrive), and the ticket of
 * the reload in flight. Per user: the profile and its reload ticket.
 */
const keys = {
  conversation: (id: string) => {
    const state = `charla:memory:conversation:${id}`;
    return [state, `${state}:turns`, `${state}:lease`];
  },
  user: (id: string) => {
    const profile = `charla:memory:user:${id}:profile`;
    return [profile, `${profile}-lease`];
  },
};

/** A turn as a sorted-set member; it starts with its role so scripts can tell a user's turn. */
type Member = [
  role: MemoryTurn['role'],
  id: string,
  position: number,
  tokens: number,
  content: string,
];

/**
 * Adds the new turn; a conversation whose newest turn before it is the user's is missing a reply, so
 * it is dropped (to be reloaded) rather than read. With a new turn, takes a reload ticket for
 * whatever is missing.
 * KEYS: state, turns, lease, profile, profile lease. ARGV: ttl, lease ttl, ticket, max turns, [position, member].
 */
const RECALL = `
local state = redis.call('GET', KEYS[1])
if state and ARGV[5] then
  redis.call('DEL', KEYS[3])
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[4]) - 1)
  local before = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. ARGV[5], '-inf', 'LIMIT', 0, 1)
  if before[1] and string.sub(before[1], 1, 8) == '["user",' then
    redis.call('DEL', KEYS[1], KEYS[2])
    state = false
  end
end
local turns = false
if state then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  turns = redis.call('ZRANGE', KEYS[2], 0, -1)
elseif ARGV[5] then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
end
local profile = redis.call('GET', KEYS[4])
if profile then
  redis.call('PEXPIRE', KEYS[4], ARGV[1])
elseif ARGV[5] then
  redis.call('SET', KEYS[5], ARGV[3], 'PX', ARGV[2])
end
return {state, turns, profile}`;

/** KEYS: state, turns, lease. ARGV: ticket, ttl, state, then position, member pairs. */
const FILL_CONVERSATION = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[3], KEYS[2])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
for i = 4, #ARGV, 2 do redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1`;

/** KEYS: profile, lease. ARGV: ticket, ttl, profile. */
const FILL_PROFILE = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 1`;

/** KEYS: state, turns, lease. ARGV: ttl, position, member, max turns. */
const APPEND = `
redis.call('DEL', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[4]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1`;

/** KEYS: state, turns, lease. ARGV: state, position of the last folded turn. */
const FOLD = `
redis.call('DEL', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
return 1`;

/** ConversationMemory on Redis, shared by every node: each operation is one atomic script. */
export class RedisConversationMemory extends ConversationMemory {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs = MEMORY_TTL_MS,
    private readonly maxTurns = MAX_MEMORY_TURNS,
  ) {
    super();
  }

  async recall(
    conversationId: string,
    userId: string,
    newTurn?: MemoryTurn,
  ): Promise<Recollection> {
    const ticket = randomUUID();
    const args: (string | number)[] = [this.ttlMs, FILL_LEASE_MS, ticket, this.maxTurns];
    if (newTurn) args.push(newTurn.position, toMember(newTurn));
    const [state, members, profile] = (await this.redis.eval(
      RECALL,
      5,
      ...keys.conversation(conversationId),
      ...keys.user(userId),
      ...args,
    )) as [string | null, string[] | null, string | null];
    return {
      conversation:
        state === null
          ? null
          : { summary: (JSON.parse(state) as State).summary, turns: members!.map(fromMember) },
      profile: profile === null ? null : (JSON.parse(profile) as ProfileData),
      ticket,
    };
  }

  async fill(
    conversationId: string,
    userId: string,
    ticket: string,
    reloaded: Reloaded,
  ): Promise<void> {
    const writes: Promise<unknown>[] = [];
    if (reloaded.conversation) {
      const { summary, turns } = reloaded.conversation;
      const state: State = { summary };
      const pairs = turns.slice(-this.maxTurns).flatMap((t) => [t.position, toMember(t)]);
      writes.push(
        this.redis.eval(
          FILL_CONVERSATION,
          3,
          ...keys.conversation(conversationId),
          ticket,
          this.ttlMs,
          JSON.stringify(state),
          ...pairs,
        ),
      );
    }
    if (reloaded.profile) {
      writes.push(
        this.redis.eval(
          FILL_PROFILE,
          2,
          ...keys.user(userId),
          ticket,
          this.ttlMs,
          JSON.stringify(reloaded.profile),
        ),
      );
    }
    await Promise.all(writes);
  }

  async append(conversationId: string, turn: MemoryTurn): Promise<void> {
    await this.redis.eval(
      APPEND,
      3,
      ...keys.conversation(conversationId),
      this.ttlMs,
      turn.position,
      toMember(turn),
      this.maxTurns,
    );
  }

  async fold(conversationId: string, summary: RollingSummary): Promise<void> {
    const state: State = { summary };
    await this.redis.eval(
      FOLD,
      3,
      ...keys.conversation(conversationId),
      JSON.stringify(state),
      summary.upToPosition,
    );
  }

  async forgetConversation(conversationId: string): Promise<void> {
    await this.redis.del(...keys.conversation(conversationId));
  }

  async forgetProfile(userId: string): Promise<void> {
    await this.redis.del(...keys.user(userId));
  }
}

interface State {
  summary: RollingSummary | null;
}

function toMember(turn: MemoryTurn): string {
  const member: Member = [turn.role, turn.id, turn.position, turn.tokens, turn.content];
  return JSON.stringify(member);
}

function fromMember(raw: string): MemoryTurn {
  const [role, id, position, tokens, content] = JSON.parse(raw) as Member;
  return { id, position, role, content, tokens };
}
