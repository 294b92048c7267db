import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** What the customer's app tells Charla about a user (name, locale, goals…), used in prompts. */
@Entity('user_profiles')
export class UserProfileEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 200 })
  userId!: string;

  @Column({ type: 'jsonb' })
  profile!: Record<string, unknown>;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
