/**
 * Notices a captured table that is dropped (or renamed) while streaming.
 * PostgreSQL sends nothing for DDL, and a publication silently loses a
 * dropped table, so without this a stream would just go quiet. Every change
 * committed before the drop is still in the slot's WAL and is delivered; the
 * watcher says loudly that the table is gone (an ERROR log once per table,
 * `outboxx_captured_tables_missing`), and the next start refuses the
 * configuration until the table is removed from it (publication.ts).
 */
import { Duration, Effect, Metric, Schedule } from "effect"
import type { OutboxxSettings } from "../config/model.js"
import * as Metrics from "../observability/metrics.js"
import { captureFacts, type Queryable } from "../postgres/catalog.js"
import { configuredTables } from "../postgres/publication.js"
import { quoteTable } from "../postgres/quote.js"

/** How often the catalog is asked: a dropped table is reported within this. */
const watchInterval = Duration.seconds(10)

export const watchTables = (catalog: Queryable, settings: OutboxxSettings) => {
  const tables = configuredTables(settings)
  const reported = new Set<string>()
  const check = Effect.gen(function*() {
    const facts = yield* captureFacts(catalog, tables)
    const missing = facts.filter((f) => f.kind === undefined)
    yield* Metric.update(Metrics.capturedTablesMissing, missing.length)
    for (const fact of missing) {
      const name = quoteTable(fact.table)
      if (reported.has(name)) continue
      reported.add(name)
      const streams = settings.streams.filter((s) =>
        s.tables.some((t) => t.schema === fact.table.schema && t.name === fact.table.name)
      ).map((s) => JSON.stringify(s.name))
      yield* Effect.logError(
        `captured table ${name} (stream ${streams.join(", ")}) was dropped or renamed: its changes up to then are ` +
          `delivered, none after; remove it from the streams' tables (the next start refuses a table that does not exist)`
      )
    }
  }).pipe(
    // A failed look is not a dropped table; the next one tries again (connection trouble surfaces elsewhere).
    Effect.catch((e) => Effect.logDebug(`cannot check the captured tables: ${e.message}`))
  )
  return check.pipe(Effect.repeat(Schedule.spaced(watchInterval)), Effect.asVoid)
}
