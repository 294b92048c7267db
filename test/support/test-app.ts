import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../src/app';
import { loadConfig, type AppConfig } from '../../src/config/app.config';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './backends';

export type Env = Record<string, string | undefined>;

/** A storage setup every e2e suite runs against (STYLE: embedded, and PostgreSQL + Redis). */
export interface StorageSetup {
  name: string;
  /** Fresh environment for one app (a new embedded data dir each call). */
  env(): Env;
}

const embedded: StorageSetup = {
  name: 'embedded (PGlite + memory)',
  env: () => ({ DATA_DIR: mkdtempSync(join(tmpdir(), 'charla-test-')) }),
};

const real: StorageSetup = {
  name: 'PostgreSQL + Redis',
  env: () => ({ DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL }),
};

export function storageSetups(): StorageSetup[] {
  return process.env.CHARLA_TEST_REAL_BACKENDS === '0' ? [embedded] : [embedded, real];
}

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  env: Env;
  /** Base URL, e.g. http://127.0.0.1:43210 */
  url: string;
  close(): Promise<void>;
}

/**
 * Every suite's requests come from 127.0.0.1 and share one Redis, so per-IP limits would bleed
 * between suites: they are off unless a suite sets them (limit suites use unique users or addresses).
 */
const GENEROUS_LIMITS: Env = {
  RATE_LIMIT_IP: '1000000',
  RATE_LIMIT_HANDSHAKES: '1000000',
  RATE_LIMIT_CHAT: '1000000',
  RATE_LIMIT_HISTORY: '1000000',
};

/** Starts the real application on 127.0.0.1 and an ephemeral port. */
export async function startApp(env: Env): Promise<TestApp> {
  const fullEnv: Env = { NODE_ENV: 'test', LOG_LEVEL: 'silent', ...GENEROUS_LIMITS, ...env };
  const config = loadConfig(fullEnv as NodeJS.ProcessEnv);
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, config, env: fullEnv, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** Removes an embedded data dir made by `storageSetups()`; a no-op for real backends. */
export function removeDataDir(env: Env): void {
  if (env.DATA_DIR?.startsWith(tmpdir())) rmSync(env.DATA_DIR, { recursive: true, force: true });
}
