import { Injectable } from '@nestjs/common';
import type { MessageDto, Page, UserHistoryQuery } from '@charla/contracts';
import { ReplyBuffer } from '../chat/generation/reply-buffer';
import { DataSource, type SelectQueryBuilder } from 'typeorm';
import { canAccess, type AuthUser } from '../auth/auth-user';
import { AppError } from '../common/app.error';
import { decodeCursor, encodeCursor, isPosition } from '../common/cursor';
import { ConversationEntity } from './conversation.entity';
import { toMessageDto } from './message.mapper';
import { MessageEntity } from './message.entity';
import { ConversationMemory } from '../memory/conversation-memory';
import { MessagesRepository } from './messages.repository';
import { UserProfileEntity } from './user-profile.entity';

/** A user's whole history across conversations (seed 003): read page by page, or erased. */
@Injectable()
export class HistoryService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly messages: MessagesRepository,
    private readonly buffers: ReplyBuffer,
    private readonly memory: ConversationMemory,
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

  /** Erases a user: their conversations, with every message (ON DELETE CASCADE), and their profile. */
  async erase(user: AuthUser, userId: string): Promise<void> {
    assertMayReach(user, userId);
    const replyIds = await this.messages.replyIds({ userId });
    const conversationIds = (
      await this.dataSource
        .getRepository(ConversationEntity)
        .find({ select: { id: true }, where: { userId } })
    ).map((c) => c.id);
    await this.dataSource.transaction(async (tx) => {
      await tx.delete(ConversationEntity, { userId });
      await tx.delete(UserProfileEntity, { userId });
    });
    await this.buffers.delete(replyIds);
    await Promise.all([
      this.memory.forgetProfile(userId),
      ...conversationIds.map((id) => this.memory.forgetConversation(id)),
    ]);
  }
}

function assertMayReach(user: AuthUser, userId: string): void {
  if (!canAccess(user, userId))
    throw new AppError('forbidden', "Only admins may reach another user's history");
}
