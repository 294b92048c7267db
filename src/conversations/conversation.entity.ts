import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity('conversations')
export class ConversationEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 200 })
  userId!: string;

  @Column({ type: 'varchar', length: 200, nullable: true })
  title!: string | null;

  @Column({ type: 'varchar', length: 64 })
  persona!: string;

  /** The client's name for this conversation when it was started by `POST /api/chat` with a sessionId. */
  @Column({ name: 'session_id', type: 'varchar', length: 100, nullable: true })
  sessionId!: string | null;

  /** Rolling summary of the turns folded out of the prompt, and the last message it covers. */
  @Column({ type: 'text', nullable: true })
  summary!: string | null;

  @Column({ name: 'summary_up_to_message_id', type: 'uuid', nullable: true })
  summaryUpToMessageId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
