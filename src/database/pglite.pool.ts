import { EventEmitter } from 'node:events';
import { PGlite } from '@electric-sql/pglite';

type Callback<T> = (err: Error | null, value?: T) => void;

interface PgResult {
  rows: unknown[];
  rowCount: number;
  command: string;
}

/**
 * A `pg.Pool` look-alike over an embedded PGlite database, handed to TypeORM's postgres driver
 * (`driver` option) so the embedded store runs the same dialect and migrations as PostgreSQL.
 *
 * PGlite is a single session, so connections are handed out one at a time: a TypeORM query
 * runner holds the session until it releases it, and two transactions can never interleave.
 */
class PglitePool extends EventEmitter {
  private readonly db: Promise<PGlite>;
  private queue: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    super();
    this.db = PGlite.create(dataDir);
  }

  connect(
    callback: (err: Error | null, client?: PgliteClient, release?: () => void) => void,
  ): void {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const turn = this.queue.then(() => this.db);
    this.queue = turn.then(
      () => released,
      () => undefined,
    );
    turn.then(
      (db) => callback(null, new PgliteClient(db), release),
      (err: Error) => callback(err),
    );
  }

  end(callback?: Callback<void>): void {
    this.db
      .then((db) => db.close())
      .then(
        () => callback?.(null),
        (err: Error) => callback?.(err),
      );
  }
}

class PgliteClient extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }

  query(
    sql: string,
    params?: unknown[] | Callback<PgResult>,
    callback?: Callback<PgResult>,
  ): Promise<PgResult> {
    const values = Array.isArray(params) ? params : undefined;
    const done = typeof params === 'function' ? params : callback;
    const command = sql.trimStart().split(/\s/, 1)[0].toUpperCase();
    // exec() runs multi-statement SQL (migrations) but takes no parameters; TypeORM expects the last result.
    const run = values?.length
      ? this.db.query(sql, values)
      : this.db
          .exec(sql)
          .then((results) => results[results.length - 1] ?? { rows: [], affectedRows: 0 });
    const result = run.then((r) => ({
      rows: r.rows,
      rowCount: r.affectedRows ?? r.rows.length,
      command,
    }));
    result.then(
      (r) => done?.(null, r),
      (err: Error) => done?.(err),
    );
    return result;
  }
}

/** The `driver` module TypeORM's postgres driver expects, backed by PGlite files in `dataDir`. */
export function pgliteDriver(dataDir: string): { Pool: new () => PglitePool } {
  return {
    Pool: class extends PglitePool {
      constructor() {
        super(dataDir);
      }
    },
  };
}
