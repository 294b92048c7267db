import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE conversations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id varchar(200) NOT NULL,
        title varchar(200),
        persona varchar(64) NOT NULL DEFAULT 'default',
        session_id varchar(100),
        summary text,
        summary_up_to_message_id uuid,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    await db.query(
      `CREATE INDEX conversations_user_recent ON conversations (user_id, updated_at DESC, id DESC)`,
    );
    // POST /api/chat names conversations by a client `sessionId`, unique per user.
    await db.query(
      `CREATE UNIQUE INDEX conversations_user_session ON conversations (user_id, session_id)
         WHERE session_id IS NOT NULL`,
    );

    await db.query(`
      CREATE TABLE messages (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        -- No index of its own: one on position alone would tempt the planner to walk it backwards
        -- and filter by owner; the per-conversation and per-user indexes below serve every page.
        position bigint GENERATED ALWAYS AS IDENTITY,
        conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        user_id varchar(200) NOT NULL,
        role varchar(16) NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
        content text NOT NULL,
        status varchar(16) NOT NULL
          CHECK (status IN ('complete', 'streaming', 'aborted', 'failed', 'interrupted')),
        client_message_id varchar(100),
        in_reply_to uuid,
        model varchar(200),
        finish_reason varchar(64),
        prompt_tokens integer,
        completion_tokens integer,
        usage_estimated boolean,
        sentiment_label varchar(16),
        sentiment_score real,
        context jsonb,
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
    // Keyset pages: a conversation's history and a user's whole history, newest first.
    await db.query(
      `CREATE INDEX messages_conversation_position ON messages (conversation_id, position DESC)`,
    );
    await db.query(`CREATE INDEX messages_user_position ON messages (user_id, position DESC)`);
    // Idempotent sends: one message per (user, clientMessageId), across every node.
    await db.query(
      `CREATE UNIQUE INDEX messages_user_client_message ON messages (user_id, client_message_id)
         WHERE client_message_id IS NOT NULL`,
    );
    // The reply to a user message, found when a send is repeated.
    await db.query(
      `CREATE INDEX messages_in_reply_to ON messages (in_reply_to) WHERE in_reply_to IS NOT NULL`,
    );
    // Replies left streaming by a crashed node are found at start-up.
    await db.query(
      `CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'`,
    );

    await db.query(`
      CREATE TABLE user_profiles (
        user_id varchar(200) PRIMARY KEY,
        profile jsonb NOT NULL,
        updated_at timestamptz(3) NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE user_profiles`);
    await db.query(`DROP TABLE messages`);
    await db.query(`DROP TABLE conversations`);
  }
}
