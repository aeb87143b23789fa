/**
 * Plans a table when its Relation message arrives: resolves its column types
 * (pg_type, for user types), reads its primary key, and builds every
 * stream's TablePlan with the stream's format. The route loop gives the
 * result to the Router before any change of the relation is routed.
 */
import * as Effect from "effect/Effect"
import type pg from "pg"
import type { OutboxxSettings } from "../config/model.js"
import type { Relation } from "../decode/messages.js"
import { TypeRegistry } from "../event/values/TypeRegistry.js"
import { formatLsn } from "../postgres/lsn.js"
import { columnFacts } from "../postgres/catalog.js"
import { type PostgresError, queryRows } from "../postgres/Postgres.js"
import { RoutingError } from "./Router.js"
import type { EventFormat, FormatError } from "../event/EventFormat.js"
import { planRelation, prepareFormats, type RelationEntry, streamFormats, TablePlanError } from "./TablePlan.js"

const primaryKeySql = `SELECT a.attname FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
  WHERE i.indrelid = $1 AND i.indisprimary
  ORDER BY array_position(i.indkey::int2[], a.attnum)`

export type RelationPlanner = (
  lsn: number,
  relation: Relation
) => Effect.Effect<RelationEntry, RoutingError | TablePlanError | FormatError | PostgresError>

export const makeRelationPlanner = (
  catalog: pg.Client,
  settings: OutboxxSettings,
  database: string,
  // One instance per stream, for the life of the stream (formats keep per-stream scratch state).
  formats: ReadonlyArray<EventFormat> = streamFormats(settings, database)
): RelationPlanner => {
  const registry = new TypeRegistry()
  const typeQuery = (sql: string, params: ReadonlyArray<unknown>) =>
    catalog.query(sql, [...params]).then((r) => r.rows as ReadonlyArray<Record<string, unknown>>)
  return Effect.fnUntraced(function*(lsn, relation) {
    yield* Effect.tryPromise({
      try: () => registry.ensure(relation.columns.map((c) => c.typeOid), typeQuery),
      catch: (cause) =>
        new RoutingError({
          lsn: formatLsn(lsn),
          reason: `cannot resolve the column types of ${relation.schema}.${relation.name}`,
          cause
        })
    })
    const pk = yield* queryRows<{ attname: string }>(catalog, primaryKeySql, [relation.relationId])
    const facts = yield* columnFacts(catalog, relation.relationId)
    const entry = planRelation(relation, settings, registry, pk.map((r) => r.attname), formats, facts)
    if (entry instanceof TablePlanError) return yield* entry
    yield* prepareFormats(entry)
    return entry
  })
}
