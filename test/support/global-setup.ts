import { preparePostgres, redisReachable, TEST_DATABASE_URL, TEST_REDIS_URL } from './backends';

/**
 * Decides once whether the PostgreSQL + Redis variant of each e2e suite runs. In CI an unreachable
 * backend fails the run; on a developer's machine those variants are skipped with a warning.
 */
export default async function globalSetup(): Promise<void> {
  const [postgres, redis] = await Promise.all([preparePostgres(), redisReachable()]);
  if (postgres && redis) {
    process.env.CHARLA_TEST_REAL_BACKENDS = '1';
    return;
  }
  const missing = [
    !postgres && `PostgreSQL (${TEST_DATABASE_URL})`,
    !redis && `Redis (${TEST_REDIS_URL})`,
  ]
    .filter(Boolean)
    .join(' and ');
  if (process.env.CI) throw new Error(`CI needs real backends, but ${missing} cannot be reached`);
  process.env.CHARLA_TEST_REAL_BACKENDS = '0';
  console.warn(
    `\n${missing} unreachable: skipping the PostgreSQL + Redis variant of the e2e suites\n`,
  );
}
