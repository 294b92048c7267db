/** `npm run migrate`: applies pending migrations to the configured database and exits. */
import 'reflect-metadata';
import { loadConfig } from '../src/config/app.config';
import { createDataSource, describeDatabase, runMigrations } from '../src/database/data-source';

async function main(): Promise<void> {
  const config = loadConfig();
  const dataSource = await createDataSource(config).initialize();
  try {
    await runMigrations(dataSource, config);
    const applied = await dataSource.query('SELECT name FROM migrations ORDER BY id');
    console.log(`${describeDatabase(config)}: ${applied.length} migration(s) applied`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
