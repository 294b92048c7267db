import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CacheStore } from '../../memory/cache.store';
import { PubSub } from '../../memory/pub-sub';
import { MetricsService } from '../../metrics/metrics.service';

const ABORT_CHANNEL = 'charla:chat:abort';
/** A running reply's owner lease: renewed while it runs, so a crashed node's replies are found. */
export const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 10_000;
const leaseKey = (replyId: string) => `charla:chat:owner:${replyId}`;

/** Why a running generation was stopped early. */
export type StopReason = 'abort' | 'shutdown';

interface Running {
  controller: AbortController;
  settled: Promise<void>;
}

/**
 * The generations running on this node. A generation is not tied to a socket: it runs until the
 * model finishes, an abort arrives (from any node, over pub/sub) or the node shuts down.
 */
@Injectable()
export class GenerationRegistry implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(GenerationRegistry.name);
  private readonly nodeId = randomUUID();
  private readonly running = new Map<string, Running>();
  private unsubscribe?: () => Promise<void>;
  private readonly renewer = setInterval(() => this.renewLeases(), RENEW_EVERY_MS).unref();

  constructor(
    private readonly pubsub: PubSub,
    private readonly cache: CacheStore,
    metrics: MetricsService,
  ) {
    metrics.track(
      'charla_running_generations',
      'Replies generating on this node',
      () => this.running.size,
    );
  }

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.pubsub.subscribe(ABORT_CHANNEL, (replyId) =>
      this.stop(replyId, 'abort'),
    );
  }

  /** After shutdown's drain: events of the last replies must still flow. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.renewer);
    await this.unsubscribe?.().catch(() => undefined);
  }

  /** True while some node runs the reply (its lease is live). */
  async isRunningAnywhere(replyId: string): Promise<boolean> {
    return this.running.has(replyId) || (await this.cache.get(leaseKey(replyId))) !== null;
  }

  get size(): number {
    return this.running.size;
  }

  /** Tracks a generation; call the returned `settle` when it has stored its outcome. */
  register(replyId: string): { signal: AbortSignal; settle: () => void } {
    const controller = new AbortController();
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.running.set(replyId, { controller, settled });
    this.cache
      .set(leaseKey(replyId), this.nodeId, LEASE_MS)
      .catch((err: Error) => this.leaseFailed(err));
    return {
      signal: controller.signal,
      settle: () => {
        this.running.delete(replyId);
        this.cache.delete(leaseKey(replyId)).catch((err: Error) => this.leaseFailed(err));
        settle();
      },
    };
  }

  /** Asks whichever node runs the reply to stop it. */
  async requestAbort(replyId: string): Promise<void> {
    await this.pubsub.publish(ABORT_CHANNEL, replyId);
  }

  /** Resolves when the reply, if it runs on this node, has stored its outcome. */
  settled(replyId: string): Promise<void> | undefined {
    return this.running.get(replyId)?.settled;
  }

  /** Stops every generation of this node (shutdown) and waits until each has stored what it had. */
  async stopAll(reason: StopReason): Promise<void> {
    const all = [...this.running.values()];
    for (const running of all) running.controller.abort(reason);
    await Promise.all(all.map((r) => r.settled));
  }

  /** Waits up to `graceMs` for running generations to finish on their own. */
  async drain(graceMs: number): Promise<void> {
    const all = Promise.all([...this.running.values()].map((r) => r.settled));
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  }

  private renewLeases(): void {
    for (const replyId of this.running.keys()) {
      this.cache
        .set(leaseKey(replyId), this.nodeId, LEASE_MS)
        .catch((err: Error) => this.leaseFailed(err));
    }
  }

  private leaseFailed(err: Error): void {
    this.logger.warn(`Generation lease not updated: ${err.message}`);
  }

  private stop(replyId: string, reason: StopReason): void {
    this.running.get(replyId)?.controller.abort(reason);
  }
}
