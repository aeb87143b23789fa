/**
 * The "cloudevents" event format: each change as a CloudEvent 1.0 under the
 * CloudEvents Kafka protocol binding, its `data` the outboxx format's event
 * (docs/formats.md "Format cloudevents").
 *
 * - structured mode: the value is the JSON event format
 *   (`{"specversion":"1.0","id":..,...,"data":{...}}`) and the record's
 *   `content-type` header is `application/cloudevents+json; charset=UTF-8`;
 * - binary mode: the value is `data` alone (`application/json`) and the
 *   attributes are `ce_*` headers.
 *
 * The Kafka key is the row's key (the binding's `partitionkey`), as in the
 * outboxx format; tombstones stay plain Kafka tombstones (not events).
 *
 * `id` is unique per change of a stream and the same on every re-delivery:
 * `<commit LSN>:<change LSN>:<op>` (a key change's delete and create share
 * their LSN, not their op), with the table added for truncates (one TRUNCATE
 * can name several tables at one LSN) and the row's key for snapshot reads
 * (every row of an initial snapshot has the snapshot's LSN).
 */
import type { CloudEventsMode } from "../../config/model.js"
import { formatLsn } from "../../postgres/lsn.js"
import type { EventFormat, FormatContext, Op, Transaction } from "../EventFormat.js"
import { asciiBytes, type JsonBytes } from "../record/JsonBytes.js"
import { jsonString } from "../values/jsonString.js"
import { type EventWrap, OutboxxFormat } from "./outboxx.js"

const typeOf: Record<Op, string> = {
  c: "io.outboxx.change.created",
  u: "io.outboxx.change.updated",
  d: "io.outboxx.change.deleted",
  r: "io.outboxx.change.read",
  t: "io.outboxx.change.truncated"
}

const STRUCTURED_HEADERS: Readonly<Record<string, string>> = { "content-type": "application/cloudevents+json; charset=UTF-8" }
const CLOSE = asciiBytes("}")

/** The event's `id` (see the module comment). */
const idOf = (op: Op, lsn: number, tx: Transaction, table: string, key: string | null): string =>
  op === "r"
    ? `${formatLsn(lsn)}:r:${key ?? ""}`
    : op === "t"
    ? `${formatLsn(tx.commitLsn)}:${formatLsn(lsn)}:t:${table}`
    : `${formatLsn(tx.commitLsn)}:${formatLsn(lsn)}:${op}`

class CloudEventsWrap implements EventWrap {
  /** `","source":"..","type":"` is per op; kept as text per op so each event is a concatenation. */
  private readonly source: string

  constructor(readonly mode: CloudEventsMode, database: string, stream: string) {
    this.source = `/outboxx/postgresql/${encodeURIComponent(database)}/${encodeURIComponent(stream)}`
  }

  private attributes(op: Op, lsn: number, tx: Transaction, table: string, key: string | null): string {
    return `{"specversion":"1.0","id":${jsonString(idOf(op, lsn, tx, table, key))},"source":${jsonString(this.source)},` +
      `"type":"${typeOf[op]}","time":"${tx.commitTs}","subject":${jsonString(table)},"datacontenttype":"application/json","data":`
  }

  open(out: JsonBytes, op: Op, lsn: number, tx: Transaction, table: string, key: string | null): void {
    if (this.mode === "structured") out.utf8(this.attributes(op, lsn, tx, table, key))
  }

  close(out: JsonBytes): void {
    if (this.mode === "structured") out.bytes(CLOSE)
  }

  headers(op: Op, lsn: number, tx: Transaction, table: string, key: string | null): Readonly<Record<string, string>> {
    if (this.mode === "structured") return STRUCTURED_HEADERS
    return {
      ce_specversion: "1.0",
      ce_id: idOf(op, lsn, tx, table, key),
      ce_source: this.source,
      ce_type: typeOf[op],
      ce_time: tx.commitTs,
      ce_subject: table,
      "content-type": "application/json"
    }
  }

  wrapText(value: string, op: Op, lsn: number, tx: Transaction, table: string, key: string | null): string {
    return this.mode === "structured" ? this.attributes(op, lsn, tx, table, key) + value + "}" : value
  }
}

export const cloudeventsFormat = (context: FormatContext): EventFormat =>
  new OutboxxFormat(
    context.database,
    new CloudEventsWrap(context.cloudEventsMode ?? "structured", context.database, context.stream),
    context.transactions
  )
