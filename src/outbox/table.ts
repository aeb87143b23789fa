/**
 * The rules of an outbox table (`kind = "outbox"`): which columns make the
 * event and which payload types it takes. The format (event/formats/
 * outboxTable.ts) follows them; startup (postgres/publication.ts), the plan
 * of each Relation message (route/TablePlan.ts) and `check` refuse a table
 * that breaks them, naming what is missing.
 */
import type { OutboxTableSettings } from "../config/model.js"
import { Oid } from "../event/values/builtinTypes.js"

/** The column types a payload may have, and how each becomes the record's value. */
export const payloadTypes: ReadonlyMap<number, "utf8" | "bytea"> = new Map([
  [Oid.json, "utf8"],
  [Oid.jsonb, "utf8"],
  [Oid.text, "utf8"],
  [1043, "utf8"], // varchar
  [Oid.bytea, "bytea"]
])

/** Column placeholders left in a topic template after `{schema}`, `{table}` and `{stream}` were rendered. */
export const templateColumns = (template: string): ReadonlyArray<string> => [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!)

/**
 * Why an outbox stream cannot take `columns` (named columns missing, or a
 * payload of a type it does not take); undefined when it can. TablePlan
 * refuses the table with it, `check` reports it.
 */
export const outboxTableProblem = (
  settings: OutboxTableSettings,
  template: string,
  columns: ReadonlyArray<{ readonly name: string; readonly typeOid: number }>
): string | undefined => {
  const names = new Set(columns.map((c) => c.name))
  const wanted: Array<readonly [string, string]> = [
    ["[streams.outbox] id", settings.id],
    ["[streams.outbox] key", settings.key],
    ["[streams.outbox] payload", settings.payload],
    ...settings.headers.map((h) => ["[streams.outbox] headers", h] as const),
    ...templateColumns(template).map((c) => ["the topic template", c] as const)
  ]
  for (const [what, name] of wanted) {
    if (!names.has(name)) return `${what} names column "${name}", which the table does not have (columns: ${[...names].join(", ")})`
  }
  const payload = columns.find((c) => c.name === settings.payload)!
  if (!payloadTypes.has(payload.typeOid)) {
    return `payload column "${payload.name}" must be json, jsonb, text, varchar or bytea (type oid ${payload.typeOid})`
  }
  return undefined
}
