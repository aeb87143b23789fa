/**
 * What a snapshot needs to know about one table, from the catalog: its columns
 * in the order pgoutput sends them (attnum order, no dropped or generated
 * columns), the chunk key (primary key, else the replica identity index, else
 * none: physical ctid ranges, initial snapshot only), the row estimate, and
 * the stream plans — made by the same `planRelation` as streamed changes, from
 * a Relation shaped like the one pgoutput would send.
 */
import { Effect } from "effect"
import type pg from "pg"
import type { OutboxxSettings } from "../config/model.js"
import type { EventFormat } from "../event/EventFormat.js"
import { planRelation, prepareFormats, type TablePlan, TablePlanError } from "../route/TablePlan.js"
import type { Relation, ReplicaIdentity } from "../decode/messages.js"
import { columnFacts, publishedColumnCondition } from "../postgres/catalog.js"
import { queryRows } from "../postgres/Postgres.js"
import { isPermanentPostgresFailure } from "../postgres/failures.js"
import { quoteIdent } from "../postgres/quote.js"
import { keyColumnsOf, PipelineShard, shardPredicate } from "../postgres/shardFilter.js"
import type { TypeRegistry } from "../event/values/TypeRegistry.js"
import { SnapshotError } from "./SnapshotError.js"

export interface TableTarget {
  /** `schema.name`, as the journal and the config name it. */
  readonly table: string
  /**
   * What the SELECTs read: `ONLY "s"."t"` for a plain table (an inheritance
   * parent's children are tables of their own, published only when
   * configured), the name itself for a partitioned table (its rows live in
   * its partitions).
   */
  readonly quotedName: string
  readonly relation: Relation
  /** Quoted column list for the SELECT, in relation order. */
  readonly selectList: string
  /** Indexes (in relation columns) of the chunk key; empty = no key (ctid chunks). */
  readonly chunkKey: ReadonlyArray<number>
  /** Plans of the streams that capture the table and take part in snapshots. */
  readonly plans: ReadonlyArray<TablePlan>
  /** pg_class.reltuples (may be -1 = never analysed; then 0). */
  readonly estimatedRows: number
  /** A shard's rows only (`shards = N`): the same condition as its publication's row filter. */
  readonly shardCondition?: string
}

const identityOf: Record<string, ReplicaIdentity> = { d: "default", n: "nothing", f: "full", i: "index" }

// A partitioned table's rows are counted in its leaves.
const classSql = `SELECT c.oid::int8::text AS oid, c.relreplident::text AS replident, c.relkind::text AS relkind,
    CASE WHEN c.relkind = 'p'
      THEN (SELECT COALESCE(sum(GREATEST(l.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) AS p
              JOIN pg_class l ON l.oid = p.relid WHERE p.isleaf)
      ELSE c.reltuples END::float8 AS reltuples
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`

/** The columns pgoutput sends, in its order: stored generated ones too with publish_generated_columns. */
const columnSql = (generatedColumns: boolean) => `SELECT a.attname::text AS name, a.atttypid::int8::text AS type_oid, a.atttypmod AS type_mod
  FROM pg_attribute a
  WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped AND ${publishedColumnCondition("a", generatedColumns)}
  ORDER BY a.attnum`

const indexColumnsSql = (which: "indisprimary" | "indisreplident") =>
  `SELECT a.attname::text AS name FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
  WHERE i.indrelid = $1::oid AND i.${which}
  ORDER BY array_position(i.indkey::int2[], a.attnum)`

const splitName = (table: string): [string, string] => {
  const dot = table.indexOf(".")
  return [table.slice(0, dot), table.slice(dot + 1)]
}

/** Loads the target of `table` ("schema.name"); the registry learns its column types. */
export const loadTableTarget = Effect.fnUntraced(function*(
  catalog: pg.Client,
  settings: OutboxxSettings,
  registry: TypeRegistry,
  formats: ReadonlyArray<EventFormat>,
  table: string
) {
  const [schema, name] = splitName(table)
  const fail = (reason: string, retryable: boolean, cause?: unknown) =>
    new SnapshotError({ table, reason, retryable, cause })
  const asSnapshotError = Effect.mapError((e: { readonly message: string; readonly code?: string | undefined }) =>
    fail(`catalog query failed: ${e.message}`, !isPermanentPostgresFailure(e.code, e.message), e)
  )
  const classRows = yield* queryRows<{ oid: string; replident: string; relkind: string; reltuples: number }>(catalog, classSql, [schema, name])
    .pipe(asSnapshotError)
  const cls = classRows[0]
  if (cls === undefined) return yield* fail("the table does not exist", false)
  const columns = yield* queryRows<{ name: string; type_oid: string; type_mod: number }>(catalog, columnSql(settings.postgres.publishGeneratedColumns), [cls.oid])
    .pipe(asSnapshotError)
  const primaryKey = (yield* queryRows<{ name: string }>(catalog, indexColumnsSql("indisprimary"), [cls.oid]).pipe(asSnapshotError))
    .map((r) => r.name)
  const identityIndex = cls.replident === "i"
    ? (yield* queryRows<{ name: string }>(catalog, indexColumnsSql("indisreplident"), [cls.oid]).pipe(asSnapshotError)).map((r) => r.name)
    : []
  const replicaIdentity = identityOf[cls.replident] ?? "default"
  // The key flags pgoutput would send in the Relation message.
  const identityColumns = replicaIdentity === "full"
    ? columns.map((c) => c.name)
    : replicaIdentity === "index"
    ? identityIndex
    : replicaIdentity === "default"
    ? primaryKey
    : []
  const relation: Relation = {
    tag: "Relation",
    xid: undefined,
    relationId: Number(cls.oid),
    schema,
    name,
    replicaIdentity,
    columns: columns.map((c) => ({
      isKey: identityColumns.includes(c.name),
      name: c.name,
      typeOid: Number(c.type_oid),
      typeMod: c.type_mod
    }))
  }
  yield* Effect.tryPromise({
    try: () =>
      registry.ensure(
        relation.columns.map((c) => c.typeOid),
        (sql, params) => catalog.query(sql, [...params]).then((r) => r.rows as ReadonlyArray<Record<string, unknown>>)
      ),
    catch: (cause) => fail("cannot resolve the column types", true, cause)
  })
  const facts = yield* columnFacts(catalog, Number(cls.oid)).pipe(asSnapshotError)
  const entry = planRelation(relation, settings, registry, primaryKey, formats, facts)
  if (entry instanceof TablePlanError) return yield* fail(entry.message, false, entry)
  yield* prepareFormats(entry).pipe(Effect.mapError((error) => fail(error.message, error.retryable, error)))
  const keyNames = primaryKey.length > 0 ? primaryKey : identityIndex
  const shard = yield* PipelineShard
  let shardCondition: string | undefined
  if (shard !== undefined) {
    const predicate = shardPredicate(yield* keyColumnsOf(catalog, schema, name).pipe(asSnapshotError), shard)
    if (typeof predicate !== "string") return yield* fail(`it cannot be split into shards: ${predicate.refused}`, false)
    shardCondition = predicate
  }
  return {
    table,
    quotedName: `${cls.relkind === "p" ? "" : "ONLY "}${quoteIdent(schema)}.${quoteIdent(name)}`,
    relation,
    selectList: relation.columns.map((c) => quoteIdent(c.name)).join(", "),
    chunkKey: keyNames.map((k) => relation.columns.findIndex((c) => c.name === k)),
    plans: entry.plans.filter((plan) => plan.stream.snapshot),
    estimatedRows: Math.max(0, Math.round(cls.reltuples)),
    ...(shardCondition === undefined ? {} : { shardCondition })
  } satisfies TableTarget
})

/** Tables of the streams that take part in snapshots, each once, in config order. */
export const snapshotTables = (settings: OutboxxSettings): Array<string> => {
  const tables = new Set<string>()
  for (const stream of settings.streams) {
    if (!stream.snapshot) continue
    for (const t of stream.tables) tables.add(`${t.schema}.${t.name}`)
  }
  return [...tables]
}
