/**
 * The center's system of record through knex: MySQL (mysql2) when DATABASE_URL is set,
 * otherwise an embedded SQLite file in the data directory (the default for `npm start`).
 */
import fs from 'node:fs';
import path from 'node:path';
import knex, { Knex } from 'knex';

export type Db = Knex;

export function createDb(databaseUrl: string | undefined, dataDir: string): Db {
  if (databaseUrl && /^mysql2?:\/\//.test(databaseUrl)) {
    return knex({
      client: 'mysql2',
      connection: { uri: databaseUrl.replace(/^mysql2:/, 'mysql:'), supportBigNumbers: true, dateStrings: false, timezone: 'Z' } as Knex.MySql2ConnectionConfig & { uri: string },
      pool: { min: 0, max: 10 },
    });
  }
  const file = databaseUrl?.startsWith('sqlite:') ? databaseUrl.slice('sqlite:'.length) : path.join(dataDir, 'center.sqlite');
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  return knex({
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    // One connection: SQLite serialises writers anyway, and one connection avoids SQLITE_BUSY.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: { pragma: (s: string) => void }, done: (err: Error | null, conn: unknown) => void) => {
        conn.pragma('journal_mode = WAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        done(null, conn);
      },
    },
  });
}

export function isMysql(db: Db): boolean {
  return db.client.config.client === 'mysql2';
}

/** The rows of a `db.raw` SELECT: mysql2 answers [rows, fields], SQLite the rows. */
export function rawRows<T = Record<string, any>>(db: Db, result: unknown): T[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (isMysql(db) ? (result as [T[]])[0] : result) as T[];
}

/** True for a unique-key violation on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e?.code === 'ER_DUP_ENTRY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || /UNIQUE constraint failed/.test(e?.message ?? '');
}
