/**
 * The "outboxx" event format (INTERFACE.md "Change event"), written as JSON
 * text by concatenation: every part that depends only on the table or the
 * transaction is computed once and reused for each row.
 */
import { asciiBytes } from "../record/JsonBytes.js"
import { jsonString } from "../values/jsonString.js"

export type Op = "c" | "u" | "d" | "r" | "t"

/** `"source":{"db":..,"schema":..,"table":..,` — once per table. */
export const sourcePrefix = (db: string, schema: string, table: string): string =>
  `{"db":${jsonString(db)},"schema":${jsonString(schema)},"table":${jsonString(table)},"lsn":"`

/** `","commitLsn":..,"txId":..,"commitTs":..,"snapshot":false}` — once per transaction. */
export const sourceSuffix = (commitLsn: string, txId: number, commitTs: string, snapshot: boolean): string =>
  `","commitLsn":"${commitLsn}","txId":${txId},"commitTs":"${commitTs}","snapshot":${snapshot}}`

const opPrefix: Record<Op, string> = {
  c: `{"op":"c","before":`,
  u: `{"op":"u","before":`,
  d: `{"op":"d","before":`,
  r: `{"op":"r","before":`,
  t: `{"op":"t","before":`
}

/**
 * The event value. `before`/`after` are JSON object texts or "null";
 * `unchanged` is a JSON array text or undefined.
 */
export const eventValue = (
  op: Op,
  before: string,
  after: string,
  unchanged: string | undefined,
  source: string,
  tsMs: number
): string =>
  opPrefix[op] + before + `,"after":` + after +
  (unchanged === undefined ? "" : `,"unchanged":` + unchanged) +
  `,"source":` + source + `,"ts_ms":` + tsMs + "}"

/**
 * The constant pieces of an event as bytes, for the Router's byte path
 * (same text as `eventValue`): op + `before`, then `after` and `unchanged`
 * (the source and ts_ms pieces are per table and per transaction).
 */
export const eventBytes = {
  opBefore: {
    c: asciiBytes(opPrefix.c),
    u: asciiBytes(opPrefix.u),
    d: asciiBytes(opPrefix.d),
    r: asciiBytes(opPrefix.r),
    t: asciiBytes(opPrefix.t)
  } as Record<Op, Uint8Array>,
  after: asciiBytes(`,"after":`),
  unchanged: asciiBytes(`,"unchanged":`),
  null: asciiBytes("null")
}
