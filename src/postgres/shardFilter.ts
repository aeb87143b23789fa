/**
 * `shards = N`: one pipeline split over N slots (cluster mode, each shard a
 * singleton of its own). Shard i publishes, and snapshots, only the rows whose
 * key hashes to i:
 *
 *   ((h % N) + N) % N = i     h = hash of the key columns, combined with #
 *
 * The same text is the publication's row filter (PostgreSQL 15+) and the
 * snapshot's extra condition, so every row belongs to exactly one shard, and
 * a key keeps its shard for life: per-key order holds within the shard. An
 * update that changes the key across shards is published by PostgreSQL as a
 * delete in the old shard and an insert in the new one.
 *
 * Row filters accept only immutable built-in functions, so each key type
 * needs its own hash function (a text cast of a timestamptz is not
 * immutable); keys of other types are refused with their type named. `abs()`
 * is avoided: it overflows on the smallest integer.
 */
import * as Effect from "effect/Effect"
import type { Queryable } from "./catalog.js"
import { type PostgresError, queryRows } from "./Postgres.js"
import { quoteIdent } from "./quote.js"
import * as Context from "effect/Context"

/** This pipeline's shard, when it is one (provided by the cluster runner). */
export interface ShardOf {
  readonly index: number
  readonly count: number
}

export const PipelineShard = Context.Reference<ShardOf | undefined>("outboxx/PipelineShard", {
  defaultValue: () => undefined
})

/** The built-in, immutable hash function of each key type that has one (by type name). */
const hashFunctions: Record<string, string> = {
  int2: "hashint2",
  int4: "hashint4",
  int8: "hashint8",
  text: "hashtext",
  varchar: "hashtext",
  bpchar: "hashbpchar",
  uuid: "uuid_hash",
  numeric: "hash_numeric",
  date: "hashint4",
  timestamp: "timestamp_hash",
  bool: "hashint4",
  oid: "hashoid"
}

/** Casts some types need to reach their hash function's argument type (all immutable). */
const argumentCasts: Record<string, string> = {
  varchar: "::text",
  date: " - '2000-01-01'::date",
  bool: "::int4"
}

export interface KeyColumn {
  readonly name: string
  readonly type: string
}

/** The predicate text for `columns` (the table's key) and `shard`, or what makes it impossible. */
export const shardPredicate = (columns: ReadonlyArray<KeyColumn>, shard: ShardOf): string | { readonly refused: string } => {
  if (columns.length === 0) return { refused: "it has no key (a primary key or a replica identity index)" }
  const hashes: Array<string> = []
  for (const column of columns) {
    const fn = hashFunctions[column.type]
    if (fn === undefined) return { refused: `its key column ${quoteIdent(column.name)} is of type ${column.type}, which has no immutable hash function outboxx knows` }
    hashes.push(`${fn}(${quoteIdent(column.name)}${argumentCasts[column.type] ?? ""})`)
  }
  const n = shard.count
  return `(((${hashes.join(" # ")}) % ${n}) + ${n}) % ${n} = ${shard.index}`
}

/** The key columns of a table (primary key, else the replica identity index), with their type names. */
export const keyColumnsOf = (client: Queryable, schema: string, table: string): Effect.Effect<Array<KeyColumn>, PostgresError> =>
  queryRows<{ name: string; type: string; primary: boolean }>(
    client,
    `SELECT a.attname::text AS name, t.typname::text AS type, i.indisprimary AS primary
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE n.nspname = $1 AND c.relname = $2 AND (i.indisprimary OR i.indisreplident)
      ORDER BY i.indisprimary DESC, array_position(i.indkey::int2[], a.attnum)`,
    [schema, table]
  ).pipe(
    Effect.map((rows) => {
      const primary = rows.filter((r) => r.primary)
      return (primary.length > 0 ? primary : rows).map(({ name, type }) => ({ name, type }))
    })
  )
