import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { ChatHub } from '../chat/chat.hub';
import { SentimentScorer, type ScoreJob } from './sentiment.scorer';
import { SentimentService } from './sentiment.service';

/** The scorer against an in-memory messages table; `failFor` makes one message's UPDATE throw. */
function build(failFor?: string) {
  const stored = new Map<string, { label: string; score: number }>();
  const broadcasts: unknown[] = [];
  const dataSource = {
    getRepository: () => ({
      update: async (
        where: { id: string },
        values: { sentimentLabel: string; sentimentScore: number },
      ) => {
        if (where.id === failFor) throw new Error('connection reset');
        stored.set(where.id, { label: values.sentimentLabel, score: values.sentimentScore });
        return { affected: where.id.startsWith('gone') ? 0 : 1 };
      },
    }),
  } as unknown as DataSource;
  const hub = { broadcast: (...args: unknown[]) => broadcasts.push(args) } as unknown as ChatHub;
  const scorer = new SentimentScorer(dataSource, new SentimentService(), hub);
  return { scorer, stored, broadcasts };
}

const job = (messageId: string, content: string): ScoreJob => ({
  messageId,
  conversationId: 'c1',
  userId: 'u1',
  content,
});

describe('SentimentScorer', () => {
  it('returns before any scoring happens, then stores and pushes each result', async () => {
    const { scorer, stored, broadcasts } = build();
    scorer.enqueue(job('m1', 'I love how fast this is!'));
    scorer.enqueue(job('m2', 'Estoy preocupado por la caída del mercado'));
    expect(stored.size).toBe(0);

    await scorer.idle();
    expect(stored.get('m1')?.label).toBe('positive');
    expect(stored.get('m2')?.label).toBe('negative');
    expect(broadcasts).toContainEqual([
      { userId: 'u1', conversationId: 'c1' },
      'sentiment',
      { conversationId: 'c1', messageId: 'm2', sentiment: stored.get('m2') },
    ]);
  });

  it('logs a failed update and goes on with the next message', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { scorer, stored, broadcasts } = build('m1');
    expect(() => scorer.enqueue(job('m1', 'great'))).not.toThrow();
    scorer.enqueue(job('m2', 'terrible'));
    await scorer.idle();
    expect(stored.has('m1')).toBe(false);
    expect(stored.get('m2')?.label).toBe('negative');
    expect(broadcasts).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith('Could not score message m1: connection reset');
    warn.mockRestore();
  });

  it('pushes nothing for a message deleted before it was scored', async () => {
    const { scorer, broadcasts } = build();
    scorer.enqueue(job('gone-1', 'great'));
    await scorer.idle();
    expect(broadcasts).toHaveLength(0);
  });

  it('drains a backlog a few at a time and accepts nothing once shut down', async () => {
    const { scorer, stored } = build();
    for (let i = 0; i < 100; i++) scorer.enqueue(job(`m${i}`, `message ${i} is great`));
    await scorer.beforeApplicationShutdown();
    expect(stored.size).toBe(100);
    scorer.enqueue(job('late', 'great'));
    await scorer.idle();
    expect(stored.has('late')).toBe(false);
  });
});
