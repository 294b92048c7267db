import { Injectable, Logger } from '@nestjs/common';
import type { MessageDto, Page, UserHistoryQuery } from '@charla/contracts';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource, type SelectQueryBuilder } from 'typeorm';
import { canAccess, type AuthUser } from '../auth/auth-user';
import { GenerationRegistry } from '../chat/generation/generation.registry';
import { ReplyBuffer } from '../chat/generation/reply-buffer';
import { AppError } from '../common/app.error';
import { decodeCursor, encodeCursor, isPosition } from '../common/cursor';
import { ConversationMemory } from '../memory/conversation-memory';
import { SummaryService } from '../summary/summary.service';
import { toMessageDto } from './message.mapper';
import { MessageEntity } from './message.entity';

/** How long an erase waits for the user's running replies to stop before clearing what they wrote. */
const STOP_WAIT_MS = 5000;
/** How often it looks whether a reply running on another node has stopped. */
const STOP_POLL_MS = 50;

/** What an erase removed from PostgreSQL, so the rest can be cleared after it. */
interface Erased {
  conversationIds: string[];
  replyIds: string[];
  /** Replies that were still being generated. */
  streamingIds: string[];
}

/** A user's whole history across conversations (seed 003): read page by page, or erased; and erasing one conversation. */
@Injectable()
export class HistoryService {
  private readonly logger = new Logger(HistoryService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly buffers: ReplyBuffer,
    private readonly memory: ConversationMemory,
    private readonly generations: GenerationRegistry,
    private readonly summaries: SummaryService,
  ) {}

  /** Newest first; `before` is the `nextCursor` of the previous page. */
  async list(user: AuthUser, userId: string, query: UserHistoryQuery): Promise<Page<MessageDto>> {
    assertMayReach(user, userId);
    const before = query.before
      ? Number(decodeCursor(query.before, 'before', [isPosition])[0])
      : undefined;
    const rows = await this.pageQuery(userId, query.limit + 1, before).getMany();
    const data = rows.slice(0, query.limit);
    return {
      data: data.map(toMessageDto),
      nextCursor:
        rows.length > query.limit ? encodeCursor(String(data[data.length - 1].position)) : null,
    };
  }

  /**
   * One page of a user's messages, newest first: a keyset on `position` that walks the
   * (user_id, position DESC) index, so a page costs the same on the first and the millionth row.
   */
  pageQuery(userId: string, take: number, before?: number): SelectQueryBuilder<MessageEntity> {
    const qb = this.dataSource
      .getRepository(MessageEntity)
      .createQueryBuilder('m')
      .where('m.user_id = :userId', { userId })
      .orderBy('m.position', 'DESC')
      .limit(take);
    if (before !== undefined) qb.andWhere('m.position < :before', { before });
    return qb;
  }

  /**
   * Erases a user everywhere: their conversations with every message (ON DELETE CASCADE) and their
   * profile in PostgreSQL; their running replies, stopped; then their memory, cached summaries and
   * resume buffers, cleared once nothing can write them again.
   */
  async erase(user: AuthUser, userId: string): Promise<void> {
    assertMayReach(user, userId);
    await this.clear(await this.eraseRows({ userId }));
    await this.memory.forgetProfile(userId);
  }

  /** Erases one of the caller's own conversations the same way (writes stay the owner's). */
  async eraseConversation(user: AuthUser, conversationId: string): Promise<void> {
    const erased = await this.eraseRows({ userId: user.id, conversationId });
    if (erased.conversationIds.length === 0) throw AppError.notFound('Conversation');
    await this.clear(erased);
  }

  /** A user's conversations (all, or the one named) and, for all, their profile, in one transaction. */
  private eraseRows(scope: { userId: string; conversationId?: string }): Promise<Erased> {
    const params = [scope.userId, scope.conversationId ?? null];
    return this.dataSource.transaction(async (tx) => {
      // Locked first: a message being sent to one of them waits, then finds its conversation gone,
      // so every reply the erase must stop is in the list read below.
      const conversations: { id: string }[] = await tx.query(
        `SELECT id FROM conversations WHERE user_id = $1 AND ($2::uuid IS NULL OR id = $2::uuid)
          ORDER BY id FOR UPDATE`,
        params,
      );
      const replies: { id: string; status: string }[] = await tx.query(
        `SELECT id, status FROM messages WHERE user_id = $1 AND role = 'assistant'
            AND ($2::uuid IS NULL OR conversation_id = $2::uuid)`,
        params,
      );
      await tx.query(
        `DELETE FROM conversations WHERE user_id = $1 AND ($2::uuid IS NULL OR id = $2::uuid)`,
        params,
      );
      if (!scope.conversationId)
        await tx.query(`DELETE FROM user_profiles WHERE user_id = $1`, [scope.userId]);
      return {
        conversationIds: conversations.map((c) => c.id),
        replyIds: replies.map((r) => r.id),
        streamingIds: replies.filter((r) => r.status === 'streaming').map((r) => r.id),
      };
    });
  }

  /** After the rows: stops what still streams, then clears what lives outside PostgreSQL. */
  private async clear(erased: Erased): Promise<void> {
    // A reply still streaming would write its buffer and memory again after they were cleared.
    await this.stopReplies(erased.streamingIds);
    await Promise.all([
      this.buffers.delete(erased.replyIds),
      this.summaries.forget(erased.conversationIds),
      ...erased.conversationIds.map((id) => this.memory.forgetConversation(id)),
    ]);
  }

  /** Aborts the replies on whichever node runs them and waits (bounded) until each has stopped. */
  private async stopReplies(replyIds: string[]): Promise<void> {
    if (replyIds.length === 0) return;
    await Promise.all(replyIds.map((id) => this.generations.requestAbort(id)));
    const deadline = Date.now() + STOP_WAIT_MS;
    const stopped = await Promise.race([
      Promise.all(replyIds.map((id) => this.stopped(id, deadline))).then(() => true),
      sleep(STOP_WAIT_MS, false, { ref: false }),
    ]);
    if (!stopped)
      this.logger.warn(`Erased a user whose replies did not stop within ${STOP_WAIT_MS} ms`);
  }

  /** Resolves once the reply no longer runs anywhere, or at the deadline. */
  private async stopped(replyId: string, deadline: number): Promise<void> {
    const local = this.generations.settled(replyId);
    if (local) return local;
    while (Date.now() < deadline && (await this.generations.isRunningAnywhere(replyId)))
      await sleep(STOP_POLL_MS, undefined, { ref: false });
  }
}

function assertMayReach(user: AuthUser, userId: string): void {
  if (!canAccess(user, userId))
    throw new AppError('forbidden', "Only admins may reach another user's history");
}
