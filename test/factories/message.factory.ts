import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { MessageEntity } from '../../src/conversations/message.entity';

/**
 * Stores `count` alternating user/assistant messages straight into the database, oldest first,
 * for history tests that need more messages than a chat session would make quickly.
 */
export async function insertMessages(
  dataSource: DataSource,
  conversation: { id: string; userId: string },
  count: number,
): Promise<string[]> {
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    conversationId: conversation.id,
    userId: conversation.userId,
    role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
    content: `message ${i}`,
    status: 'complete' as const,
  }));
  for (let i = 0; i < rows.length; i += 500) {
    await dataSource.getRepository(MessageEntity).insert(rows.slice(i, i + 500));
  }
  return rows.map((r) => r.id);
}
