import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  MAX_MEMORY_TURNS,
  type ConversationSnapshot,
  type MemoryTurn,
  type ProfileData,
  type RollingSummary,
} from '../memory/conversation-memory';
import { PromptBudget, type TurnSource } from './prompt.budget';

/** Which stored messages are prompt turns: finished text of the user or the assistant. */
const IS_TURN = `m.role IN ('user', 'assistant') AND m.status <> 'streaming' AND m.content <> ''`;

interface SnapshotRow {
  summary: string | null;
  upToMessageId: string | null;
  upToPosition: string | number | null;
  profile: ProfileData | null;
  turns: TurnSource[] | string;
}

/** What memory holds, read from PostgreSQL (the source of truth), and the rolling summary's writes. */
@Injectable()
export class MemoryRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly budget: PromptBudget,
  ) {}

  /**
   * One query: the conversation's rolling summary, its newest `MAX_MEMORY_TURNS` turns after the
   * summary (oldest first) and its owner's profile (`{}` when none).
   */
  async load(
    conversationId: string,
  ): Promise<{ conversation: ConversationSnapshot; profile: ProfileData }> {
    const rows: SnapshotRow[] = await this.dataSource.query(
      `SELECT c.summary, c.summary_up_to_message_id AS "upToMessageId", s.position AS "upToPosition",
              (SELECT p.profile FROM user_profiles p WHERE p.user_id = c.user_id) AS profile,
              (SELECT COALESCE(json_agg(t ORDER BY t.position), '[]'::json)
                 FROM (SELECT m.id, m.position, m.role, m.content FROM messages m
                        WHERE m.conversation_id = c.id AND m.position > COALESCE(s.position, 0)
                          AND ${IS_TURN}
                        ORDER BY m.position DESC LIMIT $2) t) AS turns
         FROM conversations c
         LEFT JOIN messages s ON s.id = c.summary_up_to_message_id
        WHERE c.id = $1`,
      [conversationId, MAX_MEMORY_TURNS],
    );
    const row = rows[0];
    if (!row) return { conversation: { summary: null, turns: [] }, profile: {} };
    const turns =
      typeof row.turns === 'string' ? (JSON.parse(row.turns) as TurnSource[]) : row.turns;
    return {
      conversation: { summary: summaryOf(row), turns: turns.map((t) => this.budget.turn(t)) },
      profile: row.profile ?? {},
    };
  }

  async loadProfile(userId: string): Promise<ProfileData> {
    const rows: { profile: ProfileData }[] = await this.dataSource.query(
      `SELECT profile FROM user_profiles WHERE user_id = $1`,
      [userId],
    );
    return rows[0]?.profile ?? {};
  }

  /** Turns after position `after` and before position `before`, oldest first. */
  async turnsBetween(
    conversationId: string,
    after: number,
    before: number,
    limit: number,
  ): Promise<MemoryTurn[]> {
    const rows: TurnSource[] = await this.dataSource.query(
      `SELECT m.id, m.position, m.role, m.content FROM messages m
        WHERE m.conversation_id = $1 AND m.position > $2 AND m.position < $3 AND ${IS_TURN}
        ORDER BY m.position LIMIT $4`,
      [conversationId, after, before, limit],
    );
    return rows.map((r) => this.budget.turn({ ...r, position: Number(r.position) }));
  }

  /**
   * Stores a new rolling summary unless the stored one is no longer `previous` (another fold moved
   * it). Leaves `updated_at` alone: folding is not activity in the conversation.
   */
  async storeSummary(
    conversationId: string,
    summary: RollingSummary,
    previous: string | null,
  ): Promise<boolean> {
    const rows: { stored: number }[] = await this.dataSource.query(
      `WITH folded AS (
         UPDATE conversations SET summary = $2, summary_up_to_message_id = $3
          WHERE id = $1 AND summary_up_to_message_id IS NOT DISTINCT FROM $4
         RETURNING id
       )
       SELECT count(*)::int AS stored FROM folded`,
      [conversationId, summary.text, summary.upToMessageId, previous],
    );
    return rows[0]?.stored === 1;
  }
}

function summaryOf(row: SnapshotRow): RollingSummary | null {
  if (!row.summary || !row.upToMessageId || row.upToPosition === null) return null;
  return {
    text: row.summary,
    upToMessageId: row.upToMessageId,
    upToPosition: Number(row.upToPosition),
  };
}
