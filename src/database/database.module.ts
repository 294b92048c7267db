import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app.config';
import { createDataSource, runMigrations } from './data-source';

@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** The one TypeORM DataSource, initialised (and migrated, unless DB_MIGRATIONS_RUN=false) at start. */
@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        const dataSource = await createDataSource(config).initialize();
        if (config.database.runMigrations) await runMigrations(dataSource, config);
        return dataSource;
      },
    },
    DataSourceCloser,
  ],
  exports: [DataSource],
})
export class DatabaseModule {}
