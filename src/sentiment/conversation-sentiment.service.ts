import { Injectable } from '@nestjs/common';
import {
  SENTIMENT_TIMELINE_LIMIT,
  type ConversationSentiment,
  type SentimentLabel,
  type SentimentPoint,
} from '@charla/contracts';
import { DataSource } from 'typeorm';
import type { AuthUser } from '../auth/auth-user';
import { ConversationsService } from '../conversations/conversations.service';

interface SentimentRow {
  count: number;
  mean: number | null;
  positive: number;
  neutral: number;
  negative: number;
  /** Oldest first; json_agg gives timestamps as text. */
  timeline: { messageId: string; createdAt: string; label: SentimentLabel; score: number }[];
}

/** A conversation's sentiment for dashboards: the aggregate and the timeline of its scored user messages. */
@Injectable()
export class ConversationSentimentService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly conversations: ConversationsService,
  ) {}

  async forConversation(user: AuthUser, conversationId: string): Promise<ConversationSentiment> {
    await this.conversations.get(user, conversationId);
    // One read of the conversation's scored messages (the aggregate needs them all anyway), then
    // the newest are sorted in memory: an ORDER BY position … LIMIT straight on the table could be
    // planned as a walk of the global position index, reading other conversations' rows.
    const [row] = await this.dataSource.query<SentimentRow[]>(
      `WITH scored AS MATERIALIZED (
         SELECT id, position, created_at, sentiment_label, sentiment_score
           FROM messages
          WHERE conversation_id = $1 AND role = 'user' AND sentiment_label IS NOT NULL
       ), newest AS (
         SELECT * FROM scored ORDER BY position DESC LIMIT $2
       )
       SELECT (SELECT count(*)::int FROM scored) AS count,
              (SELECT avg(sentiment_score)::float8 FROM scored) AS mean,
              (SELECT count(*)::int FROM scored WHERE sentiment_label = 'positive') AS positive,
              (SELECT count(*)::int FROM scored WHERE sentiment_label = 'neutral') AS neutral,
              (SELECT count(*)::int FROM scored WHERE sentiment_label = 'negative') AS negative,
              (SELECT coalesce(json_agg(json_build_object(
                        'messageId', id, 'createdAt', created_at,
                        'label', sentiment_label, 'score', sentiment_score) ORDER BY position), '[]')
                 FROM newest) AS timeline`,
      [conversationId, SENTIMENT_TIMELINE_LIMIT],
    );
    return {
      conversationId,
      aggregate: {
        count: row.count,
        mean: row.mean === null ? null : Math.round(row.mean * 10_000) / 10_000,
        byLabel: { positive: row.positive, neutral: row.neutral, negative: row.negative },
      },
      timeline: row.timeline.map((point): SentimentPoint => ({
        ...point,
        createdAt: new Date(point.createdAt).toISOString(),
      })),
    };
  }
}
