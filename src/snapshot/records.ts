/**
 * Snapshot rows as Kafka records, built from the same TablePlan (prefixes,
 * writers, masks, key columns) the Router uses for streamed changes, so a
 * snapshot `after` is byte-identical to the `after` of a streamed insert of
 * the same row. Rows come from PostgreSQL as text (the output functions under
 * the canonical session settings, exactly what pgoutput sends).
 */
import { eventValue } from "../kafka/serializers/outboxx.js"
import type { TablePlan } from "../pipeline/TablePlan.js"
import { buildRowJson } from "../postgres/values/rowJson.js"

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
  return out + "}"
}

/** The `after` object text. */
export const snapshotAfter = (plan: TablePlan, row: TextRow): string =>
  buildRowJson(plan.prefixes, plan.writers, row, plan.includeMask)

/** A whole `op: "r"` value; `source` is the complete source object text. */
export const snapshotValue = (afterJson: string, source: string, tsMs: number): string =>
  eventValue("r", "null", afterJson, undefined, source, tsMs)
