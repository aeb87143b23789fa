/**
 * An outbox table's rows as the events they carry (`kind = "outbox"`), with
 * Debezium EventRouter's semantics: each inserted row is one Kafka record,
 * its topic the stream's template with `{column}` taken from the row, its
 * key the key column's text, its value the payload column (json/jsonb as
 * its JSON text, text as UTF-8, bytea as its bytes), the id column as the
 * header `id` and `[streams.outbox] headers` as more headers (a NULL column
 * sends no header).
 *
 * A row that names no topic (a routing column is NULL) or an invalid one
 * becomes a dead letter on the stream's dead-letter topic with the reason:
 * never dropped. Updates, deletes and truncates of the outbox table are not
 * events (the stream takes inserts only), so an application may delete its
 * outbox rows in the same transaction.
 */
import { checkTopicName } from "../../config/topic.js"
import type { OutboxTableSettings } from "../../config/model.js"
import type { TupleValue } from "../../decode/messages.js"
import type { Tuple } from "../../decode/tuple.js"
import { formatLsn } from "../../postgres/lsn.js"
import type { EventFormat, FormatContext, TableFormat, TableShape, Transaction } from "../EventFormat.js"
import { deadLetterRecord } from "../record/DeadLetter.js"
import type { OutRecord } from "../record/OutRecord.js"
import { byteaBytes } from "../values/writers.js"
import { payloadTypes, templateColumns } from "../../outbox/table.js"

const text = (value: TupleValue | undefined): string | null =>
  typeof value === "string" ? value : value instanceof Uint8Array ? Buffer.from(value).toString("utf8") : null

class OutboxTableFormat implements TableFormat {
  /** The template split at its column placeholders: literal, column index, literal, ... */
  private readonly literals: ReadonlyArray<string>
  private readonly routing: ReadonlyArray<number>
  private readonly idIndex: number
  private readonly keyIndex: number
  private readonly payloadIndex: number
  private readonly payloadKind: "utf8" | "bytea"
  private readonly headerIndexes: ReadonlyArray<readonly [name: string, index: number]>

  constructor(
    private readonly stream: string,
    private readonly deadLetterTopic: string,
    private readonly template: string,
    settings: OutboxTableSettings,
    shape: TableShape
  ) {
    const columns = shape.relation.columns
    // TablePlan checked that every named column exists with a payload type it takes (outboxTablePlanProblem).
    const index = (name: string) => columns.findIndex((c) => c.name === name)
    const parts = template.split(/\{([^{}]+)\}/g)
    this.literals = parts.filter((_, i) => i % 2 === 0)
    this.routing = parts.filter((_, i) => i % 2 === 1).map(index)
    this.idIndex = index(settings.id)
    this.keyIndex = index(settings.key)
    this.payloadIndex = index(settings.payload)
    this.payloadKind = payloadTypes.get(columns[this.payloadIndex]!.typeOid) ?? "utf8"
    this.headerIndexes = settings.headers.map((name) => [name, index(name)] as const)
  }

  row(_out: unknown, _op: "c" | "u", _before: Tuple | undefined, _full: boolean, after: Tuple, _lsn: number, tx: Transaction): OutRecord {
    const values = after.values()
    const key = text(values[this.keyIndex])
    const payload = values[this.payloadIndex]
    const value = payload === null || payload === undefined || typeof payload === "symbol"
      ? null
      : typeof payload !== "string"
      ? Buffer.from(payload)
      : this.payloadKind === "bytea"
      ? byteaBytes(payload)
      : Buffer.from(payload, "utf8")
    const headers: Record<string, string> = {}
    const id = text(values[this.idIndex])
    if (id !== null) headers["id"] = id
    for (const [name, i] of this.headerIndexes) {
      const header = text(values[i])
      if (header !== null) Object.defineProperty(headers, name, { value: header, enumerable: true, writable: true, configurable: true })
    }
    let topic = this.literals[0]!
    for (let r = 0; r < this.routing.length; r++) {
      const part = text(values[this.routing[r]!])
      if (part === null) {
        const column = templateColumns(this.template)[r]!
        return this.deadLetter({ topic: this.template, key, value, headers }, `routing column "${column}" is NULL, so the row names no topic`, tx)
      }
      topic += part + this.literals[r + 1]!
    }
    const problem = checkTopicName(topic)
    if (problem !== undefined) return this.deadLetter({ topic, key, value, headers }, `the row names ${problem}`, tx)
    return { topic, key: key === null ? null : Buffer.from(key, "utf8"), value, headers }
  }

  private deadLetter(original: OutRecord, reason: string, tx: Transaction): OutRecord {
    return deadLetterRecord(this.deadLetterTopic, this.stream, original, reason, { xid: tx.xid, commitLsn: formatLsn(tx.commitLsn) })
  }

  keyText(tuple: Tuple): string | null {
    return text(tuple.values()[this.keyIndex])
  }

  // The stream takes inserts only (decode.ts): the Router never asks for these.
  delete(): OutRecord {
    throw new Error("an outbox table's deletes are not events")
  }

  truncate(): OutRecord {
    throw new Error("an outbox table's truncates are not events")
  }

  snapshot(): OutRecord {
    throw new Error("an outbox table is not snapshotted")
  }
}

export const outboxTableFormat = (context: FormatContext & { readonly outboxTable: OutboxTableSettings; readonly deadLetterTopic: string }): EventFormat => ({
  table: (shape) => new OutboxTableFormat(context.stream, context.deadLetterTopic, shape.topic, context.outboxTable, shape)
})
