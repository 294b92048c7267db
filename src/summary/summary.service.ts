import { Injectable, Logger } from '@nestjs/common';
import type { ConversationSummary } from '@charla/contracts';
import { DataSource } from 'typeorm';
import { canAccess, type AuthUser } from '../auth/auth-user';
import { AppError } from '../common/app.error';
import { AppConfig } from '../config/app.config';
import { ConversationEntity } from '../conversations/conversation.entity';
import { ConversationsService } from '../conversations/conversations.service';
import { CacheStore } from '../memory/cache.store';
import { Summarizer, type SummaryTurn } from './summarizer';

/** Which stored messages a summary covers: finished text of the user or the assistant. */
const IS_TURN = `m.role IN ('user', 'assistant') AND m.status <> 'streaming' AND m.content <> ''`;
/** Longest summary the endpoints return, in tokens (and never more than LLM_MAX_OUTPUT_TOKENS). */
const SUMMARY_TOKENS = 400;
/** Turns after the rolling summary that a summary reads at most (the newest). */
const MAX_TURNS = 200;
/** A summary stays valid until the conversation changes; this bounds how long Redis keeps one. */
const CACHE_TTL_MS = 24 * 3600_000;
/** An extractive stand-in for a failed LLM call is kept briefly, then the LLM is tried again. */
const DEGRADED_TTL_MS = 60_000;

const cacheKey = (conversationId: string) => `charla:summary:${conversationId}`;

/** The newest message a summary covers, and how many messages it covers. */
interface Head {
  lastId: string | null;
  lastPosition: number;
  count: number;
}

interface MaterialRow {
  summary: string | null;
  turns: SummaryTurn[] | string;
}

/**
 * Summaries of whole conversations for the summary endpoints: the rolling summary plus the turns
 * after it, summarized by the LLM (extractive when it cannot), cached until the conversation has a
 * new message. Owner or admin only.
 */
@Injectable()
export class SummaryService {
  private readonly logger = new Logger(SummaryService.name);
  /** Summaries being generated on this node, so concurrent requests share one model call. */
  private readonly inFlight = new Map<string, Promise<ConversationSummary>>();

  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly conversations: ConversationsService,
    private readonly summarizer: Summarizer,
    private readonly cache: CacheStore,
  ) {}

  /** Another user's conversation answers exactly like a missing one (404). */
  async forConversation(user: AuthUser, conversationId: string): Promise<ConversationSummary> {
    return this.summaryOf(await this.conversations.get(user, conversationId), user);
  }

  /** The summary of the user's most recently active conversation (seed 003). */
  async forLatestOf(user: AuthUser, userId: string): Promise<ConversationSummary> {
    if (!canAccess(user, userId))
      throw new AppError('forbidden', "Only admins may read another user's summaries");
    const conversation = await this.dataSource.getRepository(ConversationEntity).findOne({
      where: { userId },
      order: { updatedAt: 'DESC', id: 'DESC' },
    });
    if (!conversation) throw AppError.notFound('Conversation');
    return this.summaryOf(conversation, user);
  }

  private async summaryOf(
    conversation: ConversationEntity,
    caller: AuthUser,
  ): Promise<ConversationSummary> {
    const head = await this.head(conversation.id);
    if (head.lastId === null) return emptySummary(conversation.id);
    const cached = await this.cached(conversation.id);
    if (cached?.upToMessageId === head.lastId && cached.messageCount === head.count) return cached;

    const flight = `${conversation.id}:${head.lastId}:${head.count}`;
    let summary = this.inFlight.get(flight);
    if (!summary) {
      summary = this.generate(conversation, head, caller).finally(() =>
        this.inFlight.delete(flight),
      );
      this.inFlight.set(flight, summary);
    }
    return summary;
  }

  private async generate(
    conversation: ConversationEntity,
    head: Head,
    caller: AuthUser,
  ): Promise<ConversationSummary> {
    const { earlier, turns } = await this.material(conversation.id, head.lastPosition);
    const result = await this.summarizer.summarize({
      earlier,
      turns,
      maxTokens: Math.min(SUMMARY_TOKENS, this.config.llm.maxOutputTokens),
      keep: 'newest',
      chargeTo: caller.id,
    });
    const summary: ConversationSummary = {
      conversationId: conversation.id,
      summary: result.text,
      method: result.method,
      upToMessageId: head.lastId,
      messageCount: head.count,
      generatedAt: new Date().toISOString(),
    };
    await this.cache
      .set(
        cacheKey(conversation.id),
        JSON.stringify(summary),
        result.degraded ? DEGRADED_TTL_MS : CACHE_TTL_MS,
      )
      .catch((err: Error) => this.logger.warn(`Summary not cached: ${err.message}`));
    await this.dropIfErased(conversation.id).catch((err: Error) =>
      this.logger.warn(`Summary of an erased conversation may stay cached: ${err.message}`),
    );
    return summary;
  }

  /** Forgets the cached summaries of conversations that were deleted or erased. */
  async forget(conversationIds: string[]): Promise<void> {
    if (conversationIds.length) await this.cache.delete(...conversationIds.map(cacheKey));
  }

  /**
   * A conversation erased while its summary was being generated had its cache forgotten before
   * this write: looking after the write means one of the two deletes always runs last.
   */
  private async dropIfErased(conversationId: string): Promise<void> {
    const exists = await this.dataSource
      .getRepository(ConversationEntity)
      .existsBy({ id: conversationId });
    if (!exists) await this.forget([conversationId]);
  }

  private async head(conversationId: string): Promise<Head> {
    const rows: { count: number; lastId: string | null; lastPosition: string | null }[] =
      await this.dataSource.query(
        `SELECT (SELECT count(*)::int FROM messages m WHERE m.conversation_id = $1 AND ${IS_TURN})
                  AS count,
                last.id AS "lastId", last.position AS "lastPosition"
           FROM (SELECT 1) one
           LEFT JOIN LATERAL (
             SELECT m.id, m.position FROM messages m
              WHERE m.conversation_id = $1 AND ${IS_TURN}
              ORDER BY m.position DESC LIMIT 1
           ) last ON true`,
        [conversationId],
      );
    const row = rows[0];
    return { lastId: row.lastId, lastPosition: Number(row.lastPosition ?? 0), count: row.count };
  }

  /** The rolling summary and the newest turns after it, up to `lastPosition`, oldest first. */
  private async material(
    conversationId: string,
    lastPosition: number,
  ): Promise<{ earlier: string | null; turns: SummaryTurn[] }> {
    const rows: MaterialRow[] = await this.dataSource.query(
      `SELECT c.summary,
              (SELECT COALESCE(json_agg(json_build_object('role', t.role, 'content', t.content)
                                        ORDER BY t.position), '[]'::json)
                 FROM (SELECT m.role, m.content, m.position FROM messages m
                        WHERE m.conversation_id = c.id AND m.position > COALESCE(s.position, 0)
                          AND m.position <= $2 AND ${IS_TURN}
                        ORDER BY m.position DESC LIMIT $3) t) AS turns
         FROM conversations c
         LEFT JOIN messages s ON s.id = c.summary_up_to_message_id
        WHERE c.id = $1`,
      [conversationId, lastPosition, MAX_TURNS],
    );
    const row = rows[0];
    const turns =
      typeof row.turns === 'string' ? (JSON.parse(row.turns) as SummaryTurn[]) : row.turns;
    return { earlier: row.summary, turns };
  }

  private async cached(conversationId: string): Promise<ConversationSummary | null> {
    const raw = await this.cache.get(cacheKey(conversationId)).catch(() => null);
    return raw ? (JSON.parse(raw) as ConversationSummary) : null;
  }
}

function emptySummary(conversationId: string): ConversationSummary {
  return {
    conversationId,
    summary: '',
    method: 'extractive',
    upToMessageId: null,
    messageCount: 0,
    generatedAt: new Date().toISOString(),
  };
}
