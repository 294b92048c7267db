import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { ChatHub } from '../chat/chat.hub';
import { MessageEntity } from '../conversations/message.entity';
import { SentimentService } from './sentiment.service';

/** A stored user message to score. */
export interface ScoreJob {
  messageId: string;
  conversationId: string;
  /** The conversation's owner: whose sockets get the `sentiment` event. */
  userId: string;
  content: string;
}

/** Messages waiting beyond this are dropped (logged): a backlog must not grow without bound. */
const MAX_PENDING = 10_000;
/** Row updates in flight at once. */
const CONCURRENCY = 4;
/** How long shutdown waits for the queue to empty before dropping the rest. */
const SHUTDOWN_WAIT_MS = 2000;

/**
 * Scores user messages off the hot path: `enqueue` only pushes to an in-process queue, drained on
 * later turns of the event loop with a few row updates in flight. Each job stores the label and
 * score on the message (one UPDATE) and pushes a `sentiment` event to the owner on every node.
 * Failures are logged and dropped; a message that is never scored simply has no sentiment.
 */
@Injectable()
export class SentimentScorer implements BeforeApplicationShutdown {
  private readonly logger = new Logger(SentimentScorer.name);
  private readonly messages: Repository<MessageEntity>;
  private readonly pending: ScoreJob[] = [];
  private running = 0;
  private drainScheduled = false;
  private closed = false;
  private dropped = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    dataSource: DataSource,
    private readonly sentiment: SentimentService,
    private readonly hub: ChatHub,
  ) {
    this.messages = dataSource.getRepository(MessageEntity);
  }

  /** Queues a stored user message for scoring; returns at once and never throws. */
  enqueue(job: ScoreJob): void {
    if (this.closed) return;
    if (this.pending.length >= MAX_PENDING) {
      if (this.dropped++ === 0)
        this.logger.warn(
          `Sentiment queue full (${MAX_PENDING}): dropping messages until it drains`,
        );
      return;
    }
    this.pending.push(job);
    this.scheduleDrain();
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Before the database closes: finish what is queued, within a bound. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), SHUTDOWN_WAIT_MS);
    });
    const late = await Promise.race([this.idle().then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.logger.warn(`Shutting down with ${this.pending.length} messages left unscored`);
      this.pending.length = 0;
    }
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.pending.length === 0 || this.running >= CONCURRENCY) return;
    this.drainScheduled = true;
    // setImmediate: the caller's own work (the ack, the stream's next token) goes first.
    setImmediate(() => {
      this.drainScheduled = false;
      this.startNext();
    });
  }

  /** One analysis per turn of the event loop, so a backlog never holds it for long. */
  private startNext(): void {
    const job = this.pending.shift();
    if (!job) return;
    this.running++;
    void this.score(job).finally(() => {
      this.running--;
      if (this.isIdle()) this.wakeIdleWaiters();
      else this.scheduleDrain();
    });
    if (this.pending.length === 0 && this.dropped > 0) {
      this.logger.warn(`Sentiment queue drained; ${this.dropped} messages were dropped unscored`);
      this.dropped = 0;
    }
    this.scheduleDrain();
  }

  private async score(job: ScoreJob): Promise<void> {
    try {
      const { label, score } = this.sentiment.analyze(job.content);
      const result = await this.messages.update(
        { id: job.messageId, role: 'user' },
        { sentimentLabel: label, sentimentScore: score },
      );
      // Gone (its conversation or history was deleted meanwhile), or not a user message.
      if (!result.affected) return;
      this.hub.broadcast({ userId: job.userId, conversationId: job.conversationId }, 'sentiment', {
        conversationId: job.conversationId,
        messageId: job.messageId,
        sentiment: { label, score },
      });
    } catch (err) {
      this.logger.warn(`Could not score message ${job.messageId}: ${(err as Error).message}`);
    }
  }

  private isIdle(): boolean {
    return this.pending.length === 0 && this.running === 0;
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
