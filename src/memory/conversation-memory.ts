/** A stored user or assistant message as prompts use it. */
export interface MemoryTurn {
  id: string;
  /** The message's `position`: turns are always kept in this order, whatever order they arrive in. */
  position: number;
  role: 'user' | 'assistant';
  content: string;
  /** What the turn costs in a prompt (counted once, when it enters memory). */
  tokens: number;
}

/** The rolling summary of the turns folded out of the prompt, and the last message it covers. */
export interface RollingSummary {
  text: string;
  upToMessageId: string;
  upToPosition: number;
}

/** A conversation's short-term memory: its rolling summary and the turns after it, oldest first. */
export interface ConversationSnapshot {
  summary: RollingSummary | null;
  turns: MemoryTurn[];
}

/** What a user's profile is to memory: an opaque JSON object, `{}` when the user has none. */
export type ProfileData = Record<string, unknown>;

/** One read of memory. What is null must be reloaded from PostgreSQL and handed back to `fill`. */
export interface Recollection {
  /** Null when missing, or when it may lack a turn (its newest turn before the new one is a user's). */
  conversation: ConversationSnapshot | null;
  /** Null when not cached. */
  profile: ProfileData | null;
  /** Lets `fill` store what was reloaded, unless memory changed since this read. */
  ticket: string;
}

/** What was reloaded after a `recall`; only the parts given are stored. */
export interface Reloaded {
  conversation?: ConversationSnapshot;
  profile?: ProfileData;
}

/** Most turns kept per conversation; older ones are only in PostgreSQL (and in the rolling summary). */
export const MAX_MEMORY_TURNS = 200;
/** Idle memory expires, so abandoned conversations do not stay in Redis. */
export const MEMORY_TTL_MS = 6 * 3600_000;
/** How long a reload may take before its `fill` is refused anyway. */
export const FILL_LEASE_MS = 10_000;

/**
 * Short-term memory of conversations (recent turns, rolling summary) and of users (profile): Redis
 * when REDIS_URL is set, in-process otherwise. PostgreSQL stays the source of truth: whatever memory
 * lacks is reloaded from it.
 *
 * Consistency: every change (a new turn, a fold, a profile change) cancels the reloads in flight, so
 * a `fill` never stores data read from PostgreSQL before a change it does not contain.
 */
export abstract class ConversationMemory {
  /**
   * The hot path's one round trip: adds `newTurn` (the message being answered) and reads the
   * conversation's memory and the user's profile. Without `newTurn` it only reads: nothing read
   * from PostgreSQL afterwards may be filled in.
   */
  abstract recall(
    conversationId: string,
    userId: string,
    newTurn?: MemoryTurn,
  ): Promise<Recollection>;

  /** Stores what was reloaded after `recall`, unless memory changed since (then it is dropped). */
  abstract fill(
    conversationId: string,
    userId: string,
    ticket: string,
    reloaded: Reloaded,
  ): Promise<void>;

  /** Adds a finished turn (a stored reply) to the conversation's memory, if it has any. */
  abstract append(conversationId: string, turn: MemoryTurn): Promise<void>;

  /** Replaces the rolling summary and drops the turns it now covers. */
  abstract fold(conversationId: string, summary: RollingSummary): Promise<void>;

  /** Forgets a conversation's memory (it was deleted or erased). */
  abstract forgetConversation(conversationId: string): Promise<void>;

  /** Forgets a user's cached profile (it changed or was erased). */
  abstract forgetProfile(userId: string): Promise<void>;
}
