import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { ConversationEntity } from '../conversations/conversation.entity';
import { CacheStore } from '../memory/cache.store';
import {
  ConversationMemory,
  MAX_MEMORY_TURNS,
  type MemoryTurn,
  type ProfileData,
  type RollingSummary,
} from '../memory/conversation-memory';
import { Summarizer } from '../summary/summarizer';
import { MemoryRepository } from './memory.repository';
import { PersonaCatalog } from './persona.catalog';
import { PromptBudget } from './prompt.budget';

/** A fold ends (or is abandoned) well before its lock expires, so two never overlap. */
const FOLD_TIMEOUT_MS = 90_000;
const LOCK_MS = 120_000;
/** A fold keeps the newest turns filling this share of the room, so the next one is turns away. */
const KEEP_SHARE = 0.5;
/** The last exchange always stays verbatim. */
const MIN_KEPT_TURNS = 2;
/** Bounds one fold's work; what is left is folded by the next one. */
const MAX_CALLS_PER_FOLD = 8;
const TURNS_PER_CALL = 100;

const lockKey = (conversationId: string) => `charla:memory:conversation:${conversationId}:folding`;

/**
 * Folds the turns that no longer fit the prompt into the conversation's rolling summary, in the
 * background: one fold at a time per conversation across nodes (a CacheStore lock), the summary
 * written by the LLM (extractive when it cannot), stored in PostgreSQL with the last message it
 * covers, then in memory.
 */
@Injectable()
export class SummaryFolder implements BeforeApplicationShutdown {
  private readonly logger = new Logger(SummaryFolder.name);
  /** Folds running on this node, by conversation. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly budget: PromptBudget,
    private readonly personas: PersonaCatalog,
    private readonly repository: MemoryRepository,
    private readonly memory: ConversationMemory,
    private readonly cache: CacheStore,
    private readonly summarizer: Summarizer,
  ) {}

  /** Whether these unfolded turns outgrow the room the prompt has for turns. */
  outgrows(
    conversation: ConversationEntity,
    turns: readonly MemoryTurn[],
    profile: ProfileData,
  ): boolean {
    if (turns.length <= MIN_KEPT_TURNS) return false;
    if (turns.length >= MAX_MEMORY_TURNS) return true;
    const tokens = turns.reduce((sum, t) => sum + t.tokens, 0);
    return tokens > this.room(conversation, profile);
  }

  /** Starts a fold without waiting for it, unless one of this conversation is running here. */
  schedule(conversation: ConversationEntity): void {
    if (this.running.has(conversation.id) || this.stopping.signal.aborted) return;
    const run = this.fold(conversation)
      .catch((err: Error) => this.logger.error(`Folding a conversation failed: ${err.message}`))
      .finally(() => this.running.delete(conversation.id));
    this.running.set(conversation.id, run);
  }

  /** Stops folds in flight (nothing half-done is stored) and waits for them to let go. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled(this.running.values());
  }

  /** Folds if the conversation outgrew the budget and no other node is folding it. */
  private async fold(conversation: ConversationEntity): Promise<void> {
    const lock = lockKey(conversation.id);
    if (!(await this.cache.setIfAbsent(lock, randomUUID(), LOCK_MS))) return;
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(FOLD_TIMEOUT_MS)]);
    try {
      await this.foldLocked(conversation, signal);
    } finally {
      await this.cache.delete(lock);
    }
  }

  private async foldLocked(conversation: ConversationEntity, signal: AbortSignal): Promise<void> {
    // Decided on PostgreSQL's state: memory may lag behind it.
    const { conversation: snapshot, profile } = await this.repository.load(conversation.id);
    if (!this.outgrows(conversation, snapshot.turns, profile)) return;
    const keepFrom = oldestKept(snapshot.turns, this.room(conversation, profile) * KEEP_SHARE);
    let summary = snapshot.summary;
    // Turns older than the newest MAX_MEMORY_TURNS unfolded ones (a backlog from before folding
    // existed) are left out rather than summarized call after call.
    let after = Math.max(summary?.upToPosition ?? 0, snapshot.turns[0].position - 1);
    for (let call = 0; call < MAX_CALLS_PER_FOLD && !signal.aborted; call++) {
      const pending = await this.repository.turnsBetween(
        conversation.id,
        after,
        keepFrom,
        TURNS_PER_CALL,
      );
      if (pending.length === 0) return;
      const result = await this.summarizer.summarize({
        earlier: summary?.text ?? null,
        turns: pending,
        maxTokens: this.budget.summaryTokens,
        keep: 'oldest',
        chargeTo: conversation.userId,
        signal,
      });
      if (signal.aborted || !result.text) return;
      const last = pending[result.covered - 1];
      const next: RollingSummary = {
        text: result.text,
        upToMessageId: last.id,
        upToPosition: last.position,
      };
      const previous = summary?.upToMessageId ?? null;
      if (!(await this.repository.storeSummary(conversation.id, next, previous))) return;
      await this.memory
        .fold(conversation.id, next)
        .catch((err: Error) => this.logger.warn(`Memory missed a fold: ${err.message}`));
      summary = next;
      after = next.upToPosition;
    }
  }

  private room(conversation: ConversationEntity, profile: ProfileData): number {
    return this.budget.roomForTurns(this.personas.systemPrompt(conversation.persona), profile);
  }
}

/**
 * Position of the oldest turn a fold keeps: the newest turns within `tokens`, at least the last
 * exchange, starting with a user's turn (a reply is folded with the message it answers).
 */
function oldestKept(turns: readonly MemoryTurn[], tokens: number): number {
  let used = 0;
  let first = turns.length;
  while (first > 0) {
    const turn = turns[first - 1];
    const kept = turns.length - first;
    const fits = used + turn.tokens <= tokens && kept < MAX_MEMORY_TURNS / 2;
    if (kept >= MIN_KEPT_TURNS && !fits) break;
    used += turn.tokens;
    first--;
  }
  if (turns.length - first > MIN_KEPT_TURNS && turns[first].role === 'assistant') first++;
  return first < turns.length ? turns[first].position : Number.MAX_SAFE_INTEGER;
}
