import { Injectable } from '@nestjs/common';
import type {
  ConversationDto,
  CreateConversationRequest,
  ListConversationsQuery,
  ListMessagesQuery,
  MessageDto,
  Page,
  UpdateConversationRequest,
} from '@charla/contracts';
import { randomUUID } from 'node:crypto';
import { DataSource, LessThan, Repository } from 'typeorm';
import { canAccess, type AuthUser } from '../auth/auth-user';
import { AppError } from '../common/app.error';
import { decodeCursor, encodeCursor, isPosition, isTimestamp, isUuid } from '../common/cursor';
import { ConversationEntity } from './conversation.entity';
import { toConversationDto, toMessageDto } from './message.mapper';
import { MessageEntity } from './message.entity';

/** Conversations and their stored history; every read is scoped to the owner unless admin. */
@Injectable()
export class ConversationsService {
  private readonly conversations: Repository<ConversationEntity>;
  private readonly messages: Repository<MessageEntity>;

  constructor(dataSource: DataSource) {
    this.conversations = dataSource.getRepository(ConversationEntity);
    this.messages = dataSource.getRepository(MessageEntity);
  }

  async create(user: AuthUser, request: CreateConversationRequest): Promise<ConversationEntity> {
    const conversation = this.conversations.create({
      id: randomUUID(),
      userId: user.id,
      title: request.title ?? null,
      persona: request.persona ?? 'default',
      sessionId: null,
      summary: null,
      summaryUpToMessageId: null,
    });
    await this.conversations.insert(conversation);
    return conversation;
  }

  /**
   * The caller's conversation named by a client session id (`POST /api/chat`), created on first use.
   * Concurrent first uses converge on one row through the (user_id, session_id) unique index.
   */
  async forSession(user: AuthUser, sessionId: string, title: string): Promise<ConversationEntity> {
    await this.conversations
      .createQueryBuilder()
      .insert()
      .values({ id: randomUUID(), userId: user.id, sessionId, title, persona: 'default' })
      .orIgnore()
      .execute();
    return (await this.conversations.findOneBy({ userId: user.id, sessionId }))!;
  }

  async list(user: AuthUser, query: ListConversationsQuery): Promise<Page<ConversationDto>> {
    const ownerId = query.userId ?? user.id;
    if (!canAccess(user, ownerId))
      throw new AppError('forbidden', "Only admins may list another user's conversations");
    const qb = this.conversations
      .createQueryBuilder('c')
      .where('c.user_id = :ownerId', { ownerId })
      .orderBy('c.updated_at', 'DESC')
      .addOrderBy('c.id', 'DESC')
      .limit(query.limit + 1);
    if (query.cursor) {
      const [updatedAt, id] = decodeCursor(query.cursor, 'cursor', [isTimestamp, isUuid]);
      qb.andWhere('(c.updated_at, c.id) < (:updatedAt, :id)', { updatedAt, id });
    }
    const rows = await qb.getMany();
    return page(rows, query.limit, toConversationDto, (c) =>
      encodeCursor(c.updatedAt.toISOString(), c.id),
    );
  }

  /** The conversation if the caller may see it; another user's id answers exactly like a missing one. */
  async get(user: AuthUser, id: string): Promise<ConversationEntity> {
    const conversation = await this.conversations.findOneBy({ id });
    if (!conversation || !canAccess(user, conversation.userId))
      throw AppError.notFound('Conversation');
    return conversation;
  }

  /** A conversation the caller owns: admins read anyone's history but write only their own. */
  async getOwned(user: AuthUser, id: string): Promise<ConversationEntity> {
    const conversation = await this.conversations.findOneBy({ id });
    if (!conversation || conversation.userId !== user.id) throw AppError.notFound('Conversation');
    return conversation;
  }

  async update(
    user: AuthUser,
    id: string,
    request: UpdateConversationRequest,
  ): Promise<ConversationEntity> {
    const conversation = await this.getOwned(user, id);
    Object.assign(conversation, request);
    return this.conversations.save(conversation);
  }

  /** Deletes a conversation a send created but stored nothing in (a concurrent repeat won). */
  async discardEmpty(user: AuthUser, id: string): Promise<void> {
    await this.conversations.delete({ id, userId: user.id });
  }

  /** Newest first; `before` is the `nextCursor` of the previous page. */
  async listMessages(
    user: AuthUser,
    id: string,
    query: ListMessagesQuery,
  ): Promise<Page<MessageDto>> {
    await this.get(user, id);
    const before = query.before
      ? Number(decodeCursor(query.before, 'before', [isPosition])[0])
      : undefined;
    const rows = await this.messages.find({
      where: { conversationId: id, ...(before !== undefined && { position: LessThan(before) }) },
      order: { position: 'DESC' },
      take: query.limit + 1,
    });
    return page(rows, query.limit, toMessageDto, (m) => encodeCursor(String(m.position)));
  }
}

/** Cuts the one extra row fetched to know whether another page exists. */
function page<T, D>(
  rows: T[],
  limit: number,
  toDto: (row: T) => D,
  cursorOf: (row: T) => string,
): Page<D> {
  const data = rows.slice(0, limit);
  return {
    data: data.map(toDto),
    nextCursor: rows.length > limit ? cursorOf(data[data.length - 1]) : null,
  };
}
