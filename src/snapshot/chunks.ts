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
import type { Tuple } from "../decode/tuple.js"
import { isPermanentPostgresCause } from "../postgres/failures.js"
import { quoteIdent, quoteLiteral } from "../postgres/quote.js"
import type { TextRow } from "../event/EventFormat.js"
import { ValueTextError } from "../event/values/ValueTextError.js"
import { type CopiedRows, CopyRowError, copyRows, RowStore } from "./copyRows.js"
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

/** A COPY of one chunk, each row handed to `onRow` as it arrives (the Tuple is only valid during the call). */
const copyChunk = (
  client: pg.Client,
  target: TableTarget,
  select: string,
  onRow: (row: Tuple) => void
): Effect.Effect<CopiedRows, SnapshotError> =>
  Effect.tryPromise({
    try: () => copyRows(client, select, target.relation.columns.length, onRow),
    catch: (cause) =>
      new SnapshotError({
        table: target.table,
        reason: cause instanceof CopyRowError
          ? `unexpected COPY output: ${cause.message}`
          : `query failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        // A row we cannot read, or a value its format refuses (ValueTextError), stays so: not worth a retry.
        retryable: !(cause instanceof CopyRowError) && !(cause instanceof ValueTextError) && !isPermanentPostgresCause(cause),
        cause
      })
  })

/** What one chunk read: its rows, and the chunk key of its last row (keyed parts). */
export interface KeysetChunk {
  readonly rows: number
  /** The chunk key of the last row (text forms); undefined when the chunk is empty or has no key. */
  readonly lastKey: Array<string> | undefined
}

/**
 * The keyset query of one chunk. COPY takes no parameters: the key values
 * are literals, of unknown type until compared with their columns (as
 * parameters without a declared type would be).
 */
const keysetSelect = (
  target: TableTarget,
  after: ReadonlyArray<string> | undefined,
  limit: number,
  range?: KeyRange
): string => {
  const keyList = target.chunkKey.map((i) => quoteIdent(target.relation.columns[i]!.name)).join(", ")
  const conditions: Array<string> = target.shardCondition === undefined ? [] : [`(${target.shardCondition})`]
  if (after !== undefined) conditions.push(`(${keyList}) > (${after.map(quoteLiteral).join(", ")})`)
  if (range !== undefined) {
    const first = quoteIdent(target.relation.columns[target.chunkKey[0]!]!.name)
    if (range.above !== undefined) conditions.push(`${first} > ${quoteLiteral(range.above)}`)
    if (range.upTo !== undefined) conditions.push(`${first} <= ${quoteLiteral(range.upTo)}`)
  }
  const where = conditions.length === 0 ? "" : ` WHERE ${conditions.join(" AND ")}`
  return `SELECT ${target.selectList} FROM ${target.quotedName}${where} ORDER BY ${keyList} LIMIT ${limit}`
}

/**
 * A part of a table by its first key column: `above < k1 <= upTo`
 * (undefined = unbounded), so parts read by different connections never
 * overlap and together cover every row.
 */
export interface KeyRange {
  readonly above: string | undefined
  readonly upTo: string | undefined
}

/**
 * The next `limit` rows after `after` (undefined = from the start) in key
 * order, within `range` when given; each row to `onRow` as it arrives.
 */
export const readKeysetChunk = (
  client: pg.Client,
  target: TableTarget,
  after: ReadonlyArray<string> | undefined,
  limit: number,
  onRow: (row: Tuple) => void,
  range?: KeyRange
): Effect.Effect<KeysetChunk, SnapshotError> =>
  copyChunk(client, target, keysetSelect(target, after, limit, range), onRow).pipe(
    Effect.map(({ rows, last }) => ({
      rows,
      lastKey: last === undefined ? undefined : target.chunkKey.map((i) => String(last.value(i)))
    }))
  )

/**
 * An incremental snapshot's chunk: the keyset chunk inside a REPEATABLE READ
 * transaction whose first statement records the snapshot every later
 * statement of it reads (window.ts compares the stream's transactions with
 * it). Its rows are kept (RowStore) until the window closes.
 */
export const readKeysetChunkInSnapshot = (
  client: pg.Client,
  target: TableTarget,
  after: ReadonlyArray<string> | undefined,
  limit: number
): Effect.Effect<{ readonly rows: ReadonlyArray<Tuple>; readonly lastKey: Array<string> | undefined; readonly snapshot: TransactionSnapshot }, SnapshotError> =>
  Effect.gen(function*() {
    yield* queryText(client, target.table, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [])
    const text = (yield* queryText(client, target.table, "SELECT pg_current_snapshot()::text", []))[0]?.[0]
    const snapshot = yield* Effect.try({
      try: () => parseTransactionSnapshot(String(text)),
      catch: (cause) =>
        new SnapshotError({ table: target.table, reason: `unexpected pg_current_snapshot(): ${String(cause)}`, retryable: false, cause })
    })
    const store = new RowStore()
    const chunk = yield* readKeysetChunk(client, target, after, limit, (row) => store.add(row))
    yield* queryText(client, target.table, "COMMIT", [])
    return { rows: store.tuples(target.relation.columns.length), lastKey: chunk.lastKey, snapshot }
  })

/**
 * Split points for reading one table in `parts` key ranges at once: taken
 * from the planner's histogram of the first key column (pg_stats, as ANALYZE
 * left it), so each range holds about as many rows. Fewer ranges (or one)
 * when the table was never analysed or its histogram is short.
 */
export const keyRanges = (client: pg.Client, target: TableTarget, parts: number) =>
  Effect.gen(function*() {
    const whole: Array<KeyRange> = [{ above: undefined, upTo: undefined }]
    if (parts <= 1 || target.chunkKey.length === 0) return whole
    const column = target.relation.columns[target.chunkKey[0]!]!
    // pg_stats.histogram_bounds is anyarray: read as text, then as an array of the column's type.
    const typeRows = yield* queryText(client, target.table, "SELECT format_type($1::oid, NULL)", [column.typeOid])
    const typeName = typeRows[0]?.[0]
    if (typeName === undefined || typeName === null) return whole
    const bounds = (yield* queryText(
      client,
      target.table,
      `SELECT b::text FROM unnest((SELECT s.histogram_bounds::text FROM pg_stats s
          WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3
          ORDER BY s.inherited DESC LIMIT 1)::${typeName}[]) WITH ORDINALITY AS h(b, n) ORDER BY n`,
      [target.relation.schema, target.relation.name, column.name]
    ).pipe(Effect.orElseSucceed(() => [] as Array<TextRow>))).map((row) => row[0]).filter((b): b is string => typeof b === "string")
    if (bounds.length < 2 * parts) return whole
    const splits: Array<string> = []
    for (let p = 1; p < parts; p++) {
      const bound = bounds[Math.floor((p * bounds.length) / parts)]!
      if (splits[splits.length - 1] !== bound) splits.push(bound)
    }
    return [...splits, undefined].map((upTo, i): KeyRange => ({ above: i === 0 ? undefined : splits[i - 1], upTo }))
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

/** Rows in blocks [from, to), each to `onRow` as it arrives. */
export const readBlockRange = (client: pg.Client, target: TableTarget, from: number, to: number, onRow: (row: Tuple) => void) =>
  copyChunk(
    client,
    target,
    `SELECT ${target.selectList} FROM ${target.quotedName} WHERE ctid >= '(${from},0)'::tid AND ctid < '(${to},0)'::tid${
      target.shardCondition === undefined ? "" : ` AND (${target.shardCondition})`
    }`,
    onRow
  ).pipe(Effect.map(({ rows }) => rows))
