import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { toMessageDto } from '../../conversations/message.mapper';
import { MessagesRepository } from '../../conversations/messages.repository';
import { GenerationRegistry, LEASE_MS } from './generation.registry';
import { ReplyBuffer } from './reply-buffer';

const SWEEP_EVERY_MS = LEASE_MS;
const BATCH = 100;
/** A reply's lease is written just after its row; younger rows are left to their node. */
const MIN_AGE_SECONDS = 10;

/**
 * Finds replies left `streaming` by a node that died (no live owner lease) and stores them as
 * `interrupted` with the content buffered so far, so clients and history never wait on them forever.
 * Runs at start-up and then periodically, on every node; finishing a reply twice is harmless.
 */
@Injectable()
export class OrphanRepliesSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OrphanRepliesSweeper.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly messages: MessagesRepository,
    private readonly registry: GenerationRegistry,
    private readonly buffer: ReplyBuffer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sweep();
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Returns how many replies were marked interrupted. */
  async sweep(): Promise<number> {
    try {
      const candidates: { id: string }[] = await this.dataSource.query(
        `SELECT id FROM messages
          WHERE status = 'streaming' AND created_at < now() - make_interval(secs => $1)
          ORDER BY position LIMIT ${BATCH}`,
        [MIN_AGE_SECONDS],
      );
      let interrupted = 0;
      for (const { id } of candidates) {
        if (await this.registry.isRunningAnywhere(id)) continue;
        await this.interrupt(id);
        interrupted++;
      }
      if (interrupted)
        this.logger.warn(`Marked ${interrupted} orphaned streaming replies as interrupted`);
      return interrupted;
    } catch (err) {
      this.logger.error(`Orphan sweep failed: ${(err as Error).message}`);
      return 0;
    }
  }

  private async interrupt(replyId: string): Promise<void> {
    const buffered = await this.buffer.read(replyId, 0);
    const content = buffered?.deltas.map((d) => d.text).join('') ?? '';
    const stored = await this.messages.finishReply(replyId, {
      content,
      status: 'interrupted',
      model: null,
      finishReason: 'interrupted',
      usage: null,
    });
    if (stored) await this.buffer.finish(replyId, buffered?.lastSeq ?? 0, toMessageDto(stored));
  }
}
