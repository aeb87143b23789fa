/**
 * Snapshot rows as Kafka records, built from the same TablePlan (prefixes,
 * writers, masks, key columns) the Router uses for streamed changes, so a
 * snapshot `after` is byte-identical to the `after` of a streamed insert of
 * the same row. Rows come from PostgreSQL as text (the output functions under
 * the canonical session settings, exactly what pgoutput sends).
 */
import { debeziumKey, debeziumSource, debeziumValue } from "../event/formats/debezium/envelope.js"
import { eventValue } from "../event/formats/outboxx.js"
import type { TablePlan } from "../route/TablePlan.js"
import { buildRowJson } from "../event/values/rowJson.js"

/** One row in the table's column order: text forms, null for SQL NULL. */
export type TextRow = ReadonlyArray<string | null>

/** The Kafka key (JSON object of the key columns), as Router builds it; null when the plan has no key columns. */
export const snapshotKey = (plan: TablePlan, row: TextRow): string | null => {
  const indexes = plan.keyIndexes
  if (indexes.length === 0) return null
  let out = "{"
  for (let k = 0; k < indexes.length; k++) {
    const value = row[indexes[k]!]
    const fragment = value === null || value === undefined ? "null" : plan.writers[indexes[k]!]!(value)
    out += (k === 0 ? "" : ",") + plan.keyPrefixes[k] + fragment
  }
  return plan.debezium === undefined ? out + "}" : debeziumKey(plan.debezium, out + "}")
}

/** The `after` object text. */
export const snapshotAfter = (plan: TablePlan, row: TextRow): string =>
  buildRowJson(plan.prefixes, plan.writers, row, plan.includeMask)

/**
 * A whole `op: "r"` value. Format "outboxx": `source` is the complete source
 * object text. Format "debezium" builds its own source from `lsn` (the
 * snapshot's consistent point) and `tsMs`.
 */
export const snapshotValue = (plan: TablePlan, afterJson: string, source: string, tsMs: number, lsn: number): string =>
  plan.debezium === undefined
    ? eventValue("r", "null", afterJson, undefined, source, tsMs)
    : debeziumValue(plan.debezium, "r", "null", afterJson, debeziumSource(plan.debezium, "true", tsMs, null, lsn, lsn), tsMs)
