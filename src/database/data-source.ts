import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app.config';
import { ConversationEntity } from '../conversations/conversation.entity';
import { MessageEntity } from '../conversations/message.entity';
import { UserProfileEntity } from '../conversations/user-profile.entity';
import { InitialSchema1763800000000 } from './migrations/1763800000000-initial-schema';
import { pgliteDriver } from './pglite.pool';

export const ENTITIES = [ConversationEntity, MessageEntity, UserProfileEntity];
export const MIGRATIONS = [InitialSchema1763800000000];

/** PostgreSQL when DATABASE_URL is set, otherwise embedded PGlite under DATA_DIR; same schema. */
export function createDataSource(config: AppConfig): DataSource {
  const common = {
    type: 'postgres' as const,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
  };
  const db = config.database;
  if (db.kind === 'postgres') {
    return new DataSource({
      ...common,
      url: db.url,
      poolSize: db.poolSize,
      applicationName: 'charla',
    });
  }
  const dir = resolve(db.dataDir, 'pg');
  mkdirSync(dir, { recursive: true });
  return new DataSource({ ...common, driver: pgliteDriver(dir) });
}

/** Where the embedded database lives, for the start-up log. */
export function describeDatabase(config: AppConfig): string {
  const db = config.database;
  if (db.kind === 'embedded') return `embedded PGlite at ${join(resolve(db.dataDir), 'pg')}`;
  const url = new URL(db.url);
  return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`;
}

// Any constant works: every Charla node takes the same lock, so migrations run once at a time.
const MIGRATION_LOCK_ID = 4_242_017;

/**
 * Applies pending migrations. On PostgreSQL several nodes may start at once, so the run is
 * serialised with an advisory lock; the embedded store belongs to one process.
 */
export async function runMigrations(dataSource: DataSource, config: AppConfig): Promise<void> {
  if (config.database.kind === 'embedded') {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await lock.release();
  }
}
