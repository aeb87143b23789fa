/**
 * The "debezium" event format as an EventFormat: Debezium's PostgreSQL change
 * event envelope with schemas (envelope.ts), values as its connector writes
 * them (values.ts, types.ts). Events are built as text from the tuple's
 * values: the envelope's schemas are long constant strings computed once per
 * Relation message, so the per-row work is the values and the concatenation.
 */
import type { Tuple } from "../../../decode/tuple.js"
import type { EventFormat, FormatContext, SnapshotKind, TableFormat, TableShape, TextRow, Transaction } from "../../EventFormat.js"
import type { JsonBytes } from "../../record/JsonBytes.js"
import { jsonRecord, type OutRecord, withHeader } from "../../record/OutRecord.js"
import { SlabRecord } from "../../record/SlabRecord.js"
import { buildRowJson, keyPrefixes, textKeyJson } from "../../values/rowJson.js"
import type { JsonWriter } from "../../values/writers.js"
import {
  type DebeziumPlan,
  debeziumKey,
  debeziumPlanFor,
  debeziumSource,
  debeziumValue,
  debeziumValueRest,
  withPlaceholders
} from "./envelope.js"

const NO_BYTES = new Uint8Array(0)

const commitTimeUs = (tx: Transaction): number => tx.commitTimeUs ?? tx.commitTimeMs * 1000

/**
 * Debezium's key change, for the formats that write its events: the delete
 * carries the new key in the `__debezium.newkey` header (its tombstone too),
 * the create the old key in `__debezium.oldkey` (each the key's payload as
 * JSON text), so consumers can pair them.
 */
export const debeziumKeyChange = (
  table: Pick<TableFormat, "row" | "delete">,
  keyPayload: (tuple: Tuple) => string | null,
  out: JsonBytes,
  before: Tuple,
  beforeIsFull: boolean,
  after: Tuple,
  lsn: number,
  tx: Transaction,
  now: number
): readonly [OutRecord, OutRecord] => {
  const oldKey = keyPayload(before)
  const newKey = keyPayload(after)
  const deleted = table.delete(out, before, beforeIsFull, lsn, tx, now)
  const created = table.row(out, "c", undefined, false, after, lsn, tx, now)
  return [withHeader(deleted, "__debezium.newkey", newKey, true), withHeader(created, "__debezium.oldkey", oldKey, false)]
}

class DebeziumTable implements TableFormat {
  private readonly topic: string
  private readonly includeMask: ReadonlyArray<boolean>
  private readonly keyIndexes: ReadonlyArray<number>
  private readonly prefixes: ReadonlyArray<string>
  private readonly keyPrefixes: ReadonlyArray<string>
  private readonly writers: ReadonlyArray<JsonWriter>
  private readonly plan: DebeziumPlan

  constructor(context: FormatContext, shape: TableShape) {
    const { relation } = shape
    this.topic = shape.topic
    this.includeMask = shape.includeMask
    this.keyIndexes = shape.keyIndexes
    this.plan = debeziumPlanFor(context, shape, true)
    this.prefixes = keyPrefixes(relation.columns.map((c) => c.name))
    this.keyPrefixes = shape.keyIndexes.map((i) => this.prefixes[i]!)
    this.writers = this.plan.writers
  }

  row(
    out: JsonBytes,
    op: "c" | "u",
    before: Tuple | undefined,
    beforeIsFull: boolean,
    after: Tuple,
    lsn: number,
    tx: Transaction,
    now: number
  ): OutRecord {
    const afterValues = after.values()
    const beforeValues = before?.values()
    const unchanged: Array<number> = []
    const afterJson = buildRowJson(
      this.prefixes,
      this.writers,
      afterValues,
      this.includeMask,
      unchanged,
      beforeIsFull ? beforeValues : undefined,
      this.plan.nulls
    )
    // Debezium's `before` is the old row only when the server sent it whole (REPLICA IDENTITY FULL); else null.
    const beforeJson = beforeValues === undefined || !beforeIsFull
      ? "null"
      : buildRowJson(this.prefixes, this.writers, beforeValues, this.includeMask, undefined, undefined, this.plan.nulls)
    const afterWithPlaceholders = unchanged.length === 0 ? afterJson : withPlaceholders(this.plan, this.prefixes, afterJson, unchanged)
    return this.slabRecord(out, afterValues, debeziumValueRest(this.plan, op, beforeJson, afterWithPlaceholders, this.source(lsn, tx), now))
  }

  delete(out: JsonBytes, before: Tuple, beforeIsFull: boolean, lsn: number, tx: Transaction, now: number): OutRecord {
    const values = before.values()
    // With only the replica identity sent, the other columns are null (every field present, as Debezium writes it).
    const beforeJson = buildRowJson(this.prefixes, this.writers, values, this.includeMask, undefined, undefined, this.plan.nulls)
    return this.slabRecord(out, values, debeziumValueRest(this.plan, "d", beforeJson, "null", this.source(lsn, tx), now))
  }

  keyChange(
    out: JsonBytes,
    before: Tuple,
    beforeIsFull: boolean,
    after: Tuple,
    lsn: number,
    tx: Transaction,
    now: number
  ): readonly [OutRecord, OutRecord] {
    return debeziumKeyChange(this, (t) => this.keyPayload(t.values()), out, before, beforeIsFull, after, lsn, tx, now)
  }

  truncate(out: JsonBytes, lsn: number, tx: Transaction, now: number): OutRecord {
    return this.slabRecord(out, undefined, debeziumValueRest(this.plan, "t", "null", "null", this.source(lsn, tx), now))
  }

  snapshot(row: TextRow, kind: SnapshotKind, lsn: number, tx: Transaction, now: number): OutRecord {
    const after = buildRowJson(this.prefixes, this.writers, row, this.includeMask, undefined, undefined, this.plan.nulls)
    // Debezium's initial snapshot rows have no transaction; incremental ones are read inside the window's.
    const source = kind === "initial"
      ? debeziumSource(this.plan, "true", now * 1000, null, lsn, lsn)
      : debeziumSource(this.plan, "incremental", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn)
    return this.record(this.key(row), debeziumValue(this.plan, "r", "null", after, source, now))
  }

  /** A snapshot row's record (snapshot rows are built as text, away from the Router's slabs). */
  private record(key: string | null, value: string): OutRecord {
    return jsonRecord(this.topic, key, value)
  }

  /**
   * A streamed change's record, written into the Router's slabs: the
   * schemas are constant bytes per table (most of an event's size), copied
   * rather than concatenated into a string and encoded for every event.
   */
  private slabRecord(out: JsonBytes, keyValues: ReadonlyArray<Parameters<typeof textKeyJson>[3][number]> | undefined, valueRest: string): OutRecord {
    const plan = this.plan
    const keyPayload = keyValues === undefined ? null : this.keyPayload(keyValues)
    let keyBytes: Uint8Array = NO_BYTES
    let keyStart = 0
    let keyLength = -1
    if (keyPayload !== null) {
      out.begin()
      out.bytes(plan.keyPrefixBytes)
      out.utf8(keyPayload)
      if (plan.keySuffix !== "") out.byte(0x7d) // '}'
      out.finishPart()
      keyBytes = out.partBuf
      keyStart = out.partStart
      keyLength = out.partLength
    }
    out.begin()
    out.bytes(plan.valuePrefixBytes)
    out.utf8(valueRest)
    out.finishPart()
    return SlabRecord.make(this.topic, keyBytes, keyStart, keyLength, out.partBuf, out.partStart, out.partLength)
  }

  keyText(tuple: Tuple): string | null {
    return this.key(tuple.values())
  }

  private key(values: ReadonlyArray<Parameters<typeof textKeyJson>[3][number]>): string | null {
    const json = this.keyPayload(values)
    return json === null ? null : debeziumKey(this.plan, json)
  }

  private keyPayload(values: ReadonlyArray<Parameters<typeof textKeyJson>[3][number]>): string | null {
    return textKeyJson(this.keyPrefixes, this.writers, this.keyIndexes, values)
  }

  private source(lsn: number, tx: Transaction): string {
    return debeziumSource(this.plan, "false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn)
  }
}

export const debeziumFormat = (context: FormatContext): EventFormat => ({
  table: (shape) => new DebeziumTable(context, shape)
})
