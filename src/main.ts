import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app';
import { ConfigError, loadConfig, type AppConfig } from './config/app.config';
import { describeDatabase } from './database/data-source';

function describeBackends(config: AppConfig): string {
  const redis =
    config.redis.kind === 'redis'
      ? `Redis at ${new URL(config.redis.url).host}`
      : 'in-process memory (no REDIS_URL)';
  const llm =
    config.llm.provider === 'offline'
      ? 'offline development provider (no OPENAI_API_KEY / OPENAI_BASE_URL)'
      : config.llm.endpoints.map((e) => `${e.name} ${e.model}`).join(' -> ');
  return `database: ${describeDatabase(config)}; cache/limits/pub-sub: ${redis}; LLM: ${llm}`;
}

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await createApp(config);
  await app.listen(config.http.port, config.http.host);
  const logger = new Logger('Charla');
  logger.log(`Backends in use - ${describeBackends(config)}`);
  logger.log(`Listening on http://${config.http.host}:${config.http.port}`);
}

bootstrap().catch((err: Error) => {
  // A configuration problem is the operator's to fix: say what, without a stack trace.
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
