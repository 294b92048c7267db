import { Injectable } from '@nestjs/common';
import type { HealthReport } from '@charla/contracts';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app.config';
import { LlmProvider } from '../llm/llm.provider';
import { CacheStore } from '../memory/cache.store';

const DATABASE_TIMEOUT_MS = 2000;

/** Asks each dependency for its real state; nothing here is cached. */
@Injectable()
export class HealthService {
  constructor(
    private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly cache: CacheStore,
    private readonly llm: LlmProvider,
  ) {}

  async check(): Promise<HealthReport> {
    const started = performance.now();
    const [database, redis] = await Promise.all([this.databaseUp(), this.cache.ping()]);
    const llm = this.llmHealth();
    const healthy = database && redis && llm.status !== 'down';
    return {
      status: healthy ? 'healthy' : 'degraded',
      timestamp: new Date().toISOString(),
      services: {
        database: {
          status: database ? 'up' : 'down',
          backend: this.config.database.kind === 'postgres' ? 'postgres' : 'pglite',
        },
        redis: { status: redis ? 'up' : 'down', backend: this.cache.kind },
        llm,
      },
      uptime: Math.round(process.uptime() * 10) / 10,
      responseTime: `${Math.round(performance.now() - started)}ms`,
    };
  }

  /** Ready for traffic: storage answers (the LLM may recover on its own; its breakers say so). */
  async ready(): Promise<boolean> {
    const [database, redis] = await Promise.all([this.databaseUp(), this.cache.ping()]);
    return database && redis;
  }

  private async databaseUp(): Promise<boolean> {
    const timeout = new Promise<false>((resolve) =>
      setTimeout(resolve, DATABASE_TIMEOUT_MS, false).unref(),
    );
    const query = this.dataSource.query('SELECT 1').then(
      () => true,
      () => false,
    );
    return Promise.race([query, timeout]);
  }

  /** Down only when every endpoint's breaker is open: nothing could answer a message right now. */
  private llmHealth(): HealthReport['services']['llm'] {
    const status = this.llm.status();
    if (status.provider === 'offline') return { ...status, status: 'offline' };
    const anyClosed = status.endpoints.some((e) => e.circuit !== 'open');
    return { ...status, status: anyClosed ? 'up' : 'down' };
  }
}
