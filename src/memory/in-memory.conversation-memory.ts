import type { OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  ConversationMemory,
  FILL_LEASE_MS,
  MAX_MEMORY_TURNS,
  MEMORY_TTL_MS,
  type ConversationSnapshot,
  type MemoryTurn,
  type ProfileData,
  type Recollection,
  type Reloaded,
  type RollingSummary,
} from './conversation-memory';

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

interface Conversation {
  summary: RollingSummary | null;
  /** Oldest first, by position. */
  turns: MemoryTurn[];
}

const SWEEP_INTERVAL_MS = 60_000;

/** Single-process ConversationMemory for development and single-node installs without Redis. */
export class InMemoryConversationMemory extends ConversationMemory implements OnModuleDestroy {
  private readonly conversations = new Map<string, Expiring<Conversation>>();
  private readonly profiles = new Map<string, Expiring<ProfileData>>();
  /** Tickets of the reloads in flight, by conversation and by user. */
  private readonly conversationLeases = new Map<string, Expiring<string>>();
  private readonly profileLeases = new Map<string, Expiring<string>>();
  private readonly sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();

  constructor(
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
    let conversation = live(this.conversations, conversationId)?.value;
    if (conversation && newTurn) {
      this.conversationLeases.delete(conversationId);
      insert(conversation.turns, newTurn, this.maxTurns);
      if (newestBefore(conversation.turns, newTurn.position)?.role === 'user') {
        // Its reply never reached memory: drop it, so nobody reads it until a reload.
        this.conversations.delete(conversationId);
        conversation = undefined;
      }
    }
    if (conversation) this.touch(this.conversations, conversationId);
    else if (newTurn) this.conversationLeases.set(conversationId, expiring(ticket, FILL_LEASE_MS));

    const profile = live(this.profiles, userId)?.value ?? null;
    if (profile) this.touch(this.profiles, userId);
    else if (newTurn) this.profileLeases.set(userId, expiring(ticket, FILL_LEASE_MS));
    return { conversation: conversation ? copy(conversation) : null, profile, ticket };
  }

  async fill(
    conversationId: string,
    userId: string,
    ticket: string,
    reloaded: Reloaded,
  ): Promise<void> {
    if (reloaded.conversation && take(this.conversationLeases, conversationId, ticket)) {
      const turns: MemoryTurn[] = [];
      for (const turn of reloaded.conversation.turns) insert(turns, turn, this.maxTurns);
      this.conversations.set(
        conversationId,
        expiring({ summary: reloaded.conversation.summary, turns }, this.ttlMs),
      );
    }
    if (reloaded.profile && take(this.profileLeases, userId, ticket)) {
      this.profiles.set(userId, expiring(reloaded.profile, this.ttlMs));
    }
  }

  async append(conversationId: string, turn: MemoryTurn): Promise<void> {
    this.conversationLeases.delete(conversationId);
    const conversation = live(this.conversations, conversationId)?.value;
    if (!conversation) return;
    insert(conversation.turns, turn, this.maxTurns);
    this.touch(this.conversations, conversationId);
  }

  async fold(conversationId: string, summary: RollingSummary): Promise<void> {
    this.conversationLeases.delete(conversationId);
    const conversation = live(this.conversations, conversationId)?.value;
    if (!conversation) return;
    conversation.summary = summary;
    conversation.turns = conversation.turns.filter((t) => t.position > summary.upToPosition);
  }

  async forgetConversation(conversationId: string): Promise<void> {
    this.conversations.delete(conversationId);
    this.conversationLeases.delete(conversationId);
  }

  async forgetProfile(userId: string): Promise<void> {
    this.profiles.delete(userId);
    this.profileLeases.delete(userId);
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  private touch<T>(map: Map<string, Expiring<T>>, key: string): void {
    const entry = map.get(key);
    if (entry) entry.expiresAt = Date.now() + this.ttlMs;
  }

  private sweep(): void {
    const maps: Map<string, Expiring<unknown>>[] = [
      this.conversations,
      this.profiles,
      this.conversationLeases,
      this.profileLeases,
    ];
    for (const map of maps) for (const key of [...map.keys()]) live(map, key);
  }
}

function expiring<T>(value: T, ttlMs: number): Expiring<T> {
  return { value, expiresAt: Date.now() + ttlMs };
}

function live<T>(map: Map<string, Expiring<T>>, key: string): Expiring<T> | undefined {
  const entry = map.get(key);
  if (entry && entry.expiresAt <= Date.now()) {
    map.delete(key);
    return undefined;
  }
  return entry;
}

/** Consumes the lease if `ticket` still holds it. */
function take(leases: Map<string, Expiring<string>>, key: string, ticket: string): boolean {
  if (live(leases, key)?.value !== ticket) return false;
  leases.delete(key);
  return true;
}

/** Inserts in position order (once per id), then keeps the newest `max`. */
function insert(turns: MemoryTurn[], turn: MemoryTurn, max: number): void {
  if (turns.some((t) => t.id === turn.id)) return;
  const at = turns.findIndex((t) => t.position > turn.position);
  turns.splice(at === -1 ? turns.length : at, 0, { ...turn });
  if (turns.length > max) turns.splice(0, turns.length - max);
}

function newestBefore(turns: MemoryTurn[], position: number): MemoryTurn | undefined {
  return turns.findLast((t) => t.position < position);
}

function copy(conversation: Conversation): ConversationSnapshot {
  return { summary: conversation.summary, turns: conversation.turns.map((t) => ({ ...t })) };
}
