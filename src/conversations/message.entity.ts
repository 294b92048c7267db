import type { MessageRole, MessageStatus } from '@charla/contracts';
import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** bigint comes back from pg as a string; positions stay far below 2^53. */
const bigintAsNumber = {
  to: (v: number) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};

@Entity('messages')
export class MessageEntity {
  @PrimaryColumn('uuid')
  id!: string;

  /** Monotonic insertion order: the keyset for history pages (ties on timestamps cannot happen). */
  @Column({ type: 'bigint', insert: false, update: false, transformer: bigintAsNumber })
  position!: number;

  @Column({ name: 'conversation_id', type: 'uuid' })
  conversationId!: string;

  /** The conversation owner's id, kept on each message for per-user history and idempotency. */
  @Column({ name: 'user_id', type: 'varchar', length: 200 })
  userId!: string;

  @Column({ type: 'varchar', length: 16 })
  role!: MessageRole;

  @Column({ type: 'text' })
  content!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: MessageStatus;

  @Column({ name: 'client_message_id', type: 'varchar', length: 100, nullable: true })
  clientMessageId!: string | null;

  /** On an assistant reply: the user message it answers. */
  @Column({ name: 'in_reply_to', type: 'uuid', nullable: true })
  inReplyTo!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  model!: string | null;

  @Column({ name: 'finish_reason', type: 'varchar', length: 64, nullable: true })
  finishReason!: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true })
  promptTokens!: number | null;

  @Column({ name: 'completion_tokens', type: 'integer', nullable: true })
  completionTokens!: number | null;

  @Column({ name: 'usage_estimated', type: 'boolean', nullable: true })
  usageEstimated!: boolean | null;

  @Column({ name: 'sentiment_label', type: 'varchar', length: 16, nullable: true })
  sentimentLabel!: string | null;

  @Column({ name: 'sentiment_score', type: 'real', nullable: true })
  sentimentScore!: number | null;

  /** Per-message user context (quoted into the prompt as data). */
  @Column({ type: 'jsonb', nullable: true })
  context!: Record<string, unknown> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
