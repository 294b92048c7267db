import { Injectable } from '@nestjs/common';
import type { ProfileResponse, UserProfile } from '@charla/contracts';
import { DataSource } from 'typeorm';
import { ConversationMemory } from '../memory/conversation-memory';

interface ProfileRow {
  profile: UserProfile;
  updatedAt: Date;
}

/** A user's profile (name, locale, goals…): stored in PostgreSQL, cached by conversation memory. */
@Injectable()
export class ProfileService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly memory: ConversationMemory,
  ) {}

  async get(userId: string): Promise<ProfileResponse> {
    const rows: ProfileRow[] = await this.dataSource.query(
      `SELECT profile, updated_at AS "updatedAt" FROM user_profiles WHERE user_id = $1`,
      [userId],
    );
    return rows[0] ? toResponse(rows[0]) : { profile: {}, updatedAt: null };
  }

  /** Replaces the profile; the next prompt of any of the user's conversations carries it. */
  async replace(userId: string, profile: UserProfile): Promise<ProfileResponse> {
    const rows: ProfileRow[] = await this.dataSource.query(
      `INSERT INTO user_profiles (user_id, profile, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (user_id) DO UPDATE SET profile = EXCLUDED.profile, updated_at = now()
       RETURNING profile, updated_at AS "updatedAt"`,
      [userId, JSON.stringify(profile)],
    );
    // After the write: a prompt reloading meanwhile has its fill refused, so none keeps the old one.
    await this.memory.forgetProfile(userId);
    return toResponse(rows[0]);
  }
}

function toResponse(row: ProfileRow): ProfileResponse {
  return { profile: row.profile, updatedAt: new Date(row.updatedAt).toISOString() };
}
