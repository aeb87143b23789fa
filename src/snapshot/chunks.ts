/**
 * Reading a table in chunks, every value as text.
 *
 * - With a key (primary key, else the replica identity index): keyset
 *   pagination, `WHERE (k1, k2) > ($1, $2) ORDER BY k1, k2 LIMIT n`, which an
 *   index serves without skipping over earlier rows, so every chunk costs the
 *   same however deep into the table it is.
 * - Without a key (initial snapshot only, inside the exported snapshot):
 *   ranges of physical blocks, `WHERE ctid >= '(b0,0)' AND ctid < '(b1,0)'`
 *   (a TID range scan, PostgreSQL 14+). The snapshot is fixed, so every
 *   visible row is in exactly one range.
 *
 * Values are never parsed by `pg`: every column comes back as the text its
 * output function writes, under the canonical session settings
 * (connection.ts), i.e. exactly what pgoutput sends.
 */
import { Effect } from "effect"
import type pg from "pg"
import { isPermanentPostgresCause } from "../postgres/failures.js"
import { quoteIdent } from "../postgres/quote.js"
import type { TextRow } from "../event/EventFormat.js"
import { SnapshotError } from "./SnapshotError.js"
import type { TableTarget } from "./tableTarget.js"
import { parseTransactionSnapshot, type TransactionSnapshot } from "./visibility.js"

const textTypes = { getTypeParser: () => (value: string) => value }


export const queryText = (client: pg.Client, table: string, text: string, values: ReadonlyArray<unknown>) =>
  Effect.tryPromise({
    try: () =>
      client.query({ text, values: [...values], rowMode: "array", types: textTypes } as pg.QueryArrayConfig) as Promise<
        pg.QueryArrayResult<Array<string | null>>
      >,
    catch: (cause) => {
      return new SnapshotError({
        table,
        reason: `query failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        retryable: !isPermanentPostgresCause(cause),
        cause
      })
    }
  }).pipe(Effect.map((result) => result.rows as Array<TextRow>))

export interface KeysetChunk {
  readonly rows: Array<TextRow>
  /** The chunk key of the last row (text forms), or undefined when the chunk is empty. */
  readonly lastKey: Array<string> | undefined
}

/** The next `limit` rows after `after` (undefined = from the start), in key order. */
export const readKeysetChunk = (
  client: pg.Client,
  target: TableTarget,
  after: ReadonlyArray<string> | undefined,
  limit: number
): Effect.Effect<KeysetChunk, SnapshotError> => {
  const keyList = target.chunkKey.map((i) => quoteIdent(target.relation.columns[i]!.name)).join(", ")
  const where = after === undefined ? "" : ` WHERE (${keyList}) > (${after.map((_, i) => `$${i + 1}`).join(", ")})`
  const sql = `SELECT ${target.selectList} FROM ${target.quotedName}${where} ORDER BY ${keyList} LIMIT ${limit}`
  return queryText(client, target.table, sql, after ?? []).pipe(
    Effect.map((rows) => {
      const last = rows[rows.length - 1]
      return { rows, lastKey: last === undefined ? undefined : target.chunkKey.map((i) => String(last[i])) }
    })
  )
}

/**
 * An incremental snapshot's chunk: `readKeysetChunk` inside a REPEATABLE READ
 * transaction whose first statement records the snapshot every later
 * statement of it reads (window.ts compares the stream's transactions with it).
 */
export const readKeysetChunkInSnapshot = (
  client: pg.Client,
  target: TableTarget,
  after: ReadonlyArray<string> | undefined,
  limit: number
): Effect.Effect<KeysetChunk & { readonly snapshot: TransactionSnapshot }, SnapshotError> =>
  Effect.gen(function*() {
    yield* queryText(client, target.table, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [])
    const text = (yield* queryText(client, target.table, "SELECT pg_current_snapshot()::text", []))[0]?.[0]
    const snapshot = yield* Effect.try({
      try: () => parseTransactionSnapshot(String(text)),
      catch: (cause) =>
        new SnapshotError({ table: target.table, reason: `unexpected pg_current_snapshot(): ${String(cause)}`, retryable: false, cause })
    })
    const chunk = yield* readKeysetChunk(client, target, after, limit)
    yield* queryText(client, target.table, "COMMIT", [])
    return { ...chunk, snapshot }
  })

/**
 * Blocks in the table's main fork now (never fewer than the snapshot can see).
 * A partitioned table has no storage of its own: a ctid range applies to each
 * partition, so the ranges must cover its largest leaf.
 */
export const relationBlocks = (client: pg.Client, target: TableTarget) =>
  queryText(
    client,
    target.table,
    `SELECT (COALESCE((SELECT max(pg_relation_size(p.relid)) FROM pg_partition_tree($1::oid) AS p WHERE p.isleaf),
                      pg_relation_size($1::oid)) / current_setting('block_size')::int8)::text`,
    [target.relation.relationId]
  ).pipe(Effect.map((rows) => Number(rows[0]?.[0] ?? 0)))

/** Rows in blocks [from, to). */
export const readBlockRange = (client: pg.Client, target: TableTarget, from: number, to: number) =>
  queryText(
    client,
    target.table,
    `SELECT ${target.selectList} FROM ${target.quotedName} WHERE ctid >= '(${from},0)'::tid AND ctid < '(${to},0)'::tid`,
    []
  )
