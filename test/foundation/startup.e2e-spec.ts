import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/backends';
import { request } from '../support/http';
import {
  runUntilExit,
  SERVER_ENTRY,
  startServerProcess,
  type ServerProcess,
} from '../support/server-process';

/**
 * What `npm start` does on a fresh machine: the built server with no .env and no variables.
 * Each test runs it in an empty working directory, so `./data` is new.
 */
describe('starting the server process', () => {
  let cwd: string;
  let server: ServerProcess | undefined;

  beforeAll(() => {
    if (!existsSync(SERVER_ENTRY))
      throw new Error(`${SERVER_ENTRY} is missing: run "npm run build" first`);
  });
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'charla-start-'));
  });
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    rmSync(cwd, { recursive: true, force: true });
  });

  it('serves a healthy /api/health on embedded defaults and says which backends it uses', async () => {
    server = await startServerProcess({}, cwd);
    expect(server.output()).toMatch(/embedded PGlite at .*data/);
    expect(server.output()).toMatch(/in-process memory/);
    expect(server.output()).toMatch(/offline development provider/);

    const health = await request(`${server.url}/api/health`);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'healthy',
      services: {
        database: { status: 'up', backend: 'pglite' },
        redis: { status: 'up', backend: 'memory' },
        llm: { status: 'offline', provider: 'offline' },
      },
    });
    expect(existsSync(join(cwd, 'data'))).toBe(true);
  });

  const withRealBackends = process.env.CHARLA_TEST_REAL_BACKENDS === '0' ? it.skip : it;

  withRealBackends(
    'uses and reports PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set',
    async () => {
      server = await startServerProcess(
        { DATABASE_URL: TEST_DATABASE_URL, REDIS_URL: TEST_REDIS_URL },
        cwd,
      );
      expect(server.output()).toMatch(/PostgreSQL at 127\.0\.0\.1:5432/);
      expect(server.output()).toMatch(/Redis at 127\.0\.0\.1:6379/);
      const health = await request(`${server.url}/api/health`);
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('healthy');
      expect(health.body.services).toMatchObject({
        database: { status: 'up', backend: 'postgres' },
        redis: { status: 'up', backend: 'redis' },
      });
    },
  );

  it('refuses to start in production with the offline provider, a short secret or embedded storage', async () => {
    const { code, output } = await runUntilExit(
      { NODE_ENV: 'production', JWT_SECRET: 'short' },
      cwd,
    );
    expect(code).toBe(1);
    for (const variable of ['OPENAI_API_KEY', 'JWT_SECRET', 'DATABASE_URL', 'REDIS_URL']) {
      expect(output).toContain(variable);
    }
    expect(output).not.toMatch(/at .*\.js:\d+/); // a message for the operator, not a stack trace
  });

  it('names a malformed variable', async () => {
    const { code, output } = await runUntilExit({ PORT: 'eighty', DATABASE_URL: 'mysql://x' }, cwd);
    expect(code).toBe(1);
    expect(output).toMatch(/PORT:/);
    expect(output).toMatch(/DATABASE_URL: must be a postgres: or postgresql: URL/);
  });
});
