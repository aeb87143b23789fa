/**
 * The "debezium" event format as an EventFormat: Debezium's PostgreSQL change
 * event envelope with schemas (envelope.ts), values as its connector writes
 * them (values.ts, types.ts). Streamed changes are written as bytes into
 * the Router's slabs like the outboxx format's: the envelope's schemas are
 * constant bytes computed once per Relation message, each value is written
 * from its text in the replication message (byteWriters.ts), and `source`
 * is encoded once per transaction. Snapshot rows are written the same way
 * (their source once per snapshot read and batch).
 */
import type { Tuple } from "../../../decode/tuple.js"
import type { EventFormat, FormatContext, Op, SnapshotKind, TableFormat, TableShape, Transaction } from "../../EventFormat.js"
import { asciiBytes, type JsonBytes, utf8Bytes } from "../../record/JsonBytes.js"
import { jsonRecord, type OutRecord, withHeader } from "../../record/OutRecord.js"
import { SlabRecord } from "../../record/SlabRecord.js"
import type { StreamTransactions } from "../../TransactionMetadata.js"
import { keyPrefixBytes, keyPrefixes, textKeyJson, writeKeyJson, writeRowJson } from "../../values/rowJson.js"
import type { JsonWriter } from "../../values/writers.js"
import {
  type DebeziumPlan,
  DEBEZIUM_MESSAGE_COLLECTION,
  debeziumKey,
  debeziumMessage,
  debeziumPlanFor,
  debeziumSource,
  debeziumSourceParts,
  debeziumValueTail
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

/** `,"after":` and `null`, the constant pieces between an event's rows. */
const AFTER = asciiBytes(`,"after":`)
const NULL = asciiBytes("null")

class DebeziumTable implements TableFormat {
  private readonly topic: string
  private readonly includeMask: ReadonlyArray<boolean>
  private readonly keyIndexes: ReadonlyArray<number>
  private readonly prefixes: ReadonlyArray<string>
  private readonly keyPrefixes: ReadonlyArray<string>
  private readonly prefixBytes: ReadonlyArray<Uint8Array>
  private readonly keyPrefixBytes: ReadonlyArray<Uint8Array>
  private readonly writers: ReadonlyArray<JsonWriter>
  private readonly plan: DebeziumPlan
  /** `,"source":` up to the change's LSN, and between its two LSNs: encoded once per transaction. */
  private sourceTx: Transaction | undefined = undefined
  private sourceHead: Uint8Array = NO_BYTES
  private sourceMiddle: Uint8Array = NO_BYTES
  private sourceTail = ""
  /** Per op, the event after its second LSN: encoded once per batch (`now`). */
  private tailNow = -1
  private tails: Partial<Record<Op, Uint8Array>> = {}
  /** The key `writeKey` wrote last: `keyBytes[keyStart, keyStart + keyLength)`, length -1 for none. */
  private keyBytes: Uint8Array = NO_BYTES
  private keyStart = 0
  private keyLength = -1
  /** See `snapshotEndBytes`. */
  private snapshotEnd: { kind: SnapshotKind | undefined; lsn: number; tx: Transaction | undefined; now: number; bytes: Uint8Array } = {
    kind: undefined,
    lsn: -1,
    tx: undefined,
    now: -1,
    bytes: NO_BYTES
  }

  /** Transaction metadata (`transaction_topic`), when on. */
  private readonly transactions: StreamTransactions | undefined
  /** `schema.table`: the data collection events count under. */
  private readonly table: string

  constructor(context: FormatContext, shape: TableShape) {
    const { relation } = shape
    this.transactions = context.transactions
    this.table = `${relation.schema}.${relation.name}`
    this.topic = shape.topic
    this.includeMask = shape.includeMask
    this.keyIndexes = shape.keyIndexes
    this.plan = debeziumPlanFor(context, shape, true)
    const names = relation.columns.map((c) => c.name)
    this.prefixes = keyPrefixes(names)
    this.keyPrefixes = shape.keyIndexes.map((i) => this.prefixes[i]!)
    this.prefixBytes = keyPrefixBytes(names)
    this.keyPrefixBytes = shape.keyIndexes.map((i) => this.prefixBytes[i]!)
    this.writers = this.plan.writers
  }

  /**
   * A streamed change is written as bytes into the Router's slabs: the
   * schemas (most of an event's size) are constant bytes per table, each
   * value is written from its text in the replication message, and the rest
   * is encoded once per transaction or batch.
   */
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
    const plan = this.plan
    this.writeKey(out, after)
    out.begin()
    out.bytes(plan.valuePrefixBytes)
    // Debezium's `before` is the old row only when the server sent it whole (REPLICA IDENTITY FULL); else null.
    if (before === undefined || !beforeIsFull) out.bytes(NULL)
    else writeRowJson(out, this.prefixBytes, plan.byteWriters, before, this.includeMask, undefined, undefined, plan.nullBytes)
    out.bytes(AFTER)
    // An unchanged TOASTed value is taken from a whole old row, else Debezium's placeholder stands in its place.
    writeRowJson(out, this.prefixBytes, plan.byteWriters, after, this.includeMask, undefined, beforeIsFull ? before : undefined, plan.nullBytes, plan.placeholderBytes)
    return this.finish(out, op, lsn, tx, now)
  }

  delete(out: JsonBytes, before: Tuple, beforeIsFull: boolean, lsn: number, tx: Transaction, now: number): OutRecord {
    const plan = this.plan
    this.writeKey(out, before)
    out.begin()
    out.bytes(plan.valuePrefixBytes)
    // With only the replica identity sent, the other columns are null (every field present, as Debezium writes it).
    writeRowJson(out, this.prefixBytes, plan.byteWriters, before, this.includeMask, undefined, undefined, plan.nullBytes)
    out.bytes(AFTER)
    out.bytes(NULL)
    return this.finish(out, "d", lsn, tx, now)
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
    this.keyLength = -1
    out.begin()
    out.bytes(this.plan.valuePrefixBytes)
    out.bytes(NULL)
    out.bytes(AFTER)
    out.bytes(NULL)
    return this.finish(out, "t", lsn, tx, now)
  }

  /**
   * A snapshot row (`op` "r", `before` null), written as bytes like a
   * streamed insert. Every row of one snapshot read shares its source, its
   * LSN and the batch's time, so everything after `after` is one cached copy.
   */
  snapshot(out: JsonBytes, tuple: Tuple, kind: SnapshotKind, lsn: number, tx: Transaction, now: number): OutRecord {
    const plan = this.plan
    this.writeKey(out, tuple)
    out.begin()
    out.bytes(plan.valuePrefixBytes)
    out.bytes(NULL)
    out.bytes(AFTER)
    writeRowJson(out, this.prefixBytes, plan.byteWriters, tuple, this.includeMask, undefined, undefined, plan.nullBytes)
    out.bytes(this.snapshotEndBytes(kind, lsn, tx, now))
    out.finishPart()
    return SlabRecord.make(this.topic, this.keyBytes, this.keyStart, this.keyLength, out.partBuf, out.partStart, out.partLength)
  }

  /** `,"source":{..},"transaction":null,"op":"r",..}` of a snapshot row, encoded again only when the read, its LSN or `now` changes. */
  private snapshotEndBytes(kind: SnapshotKind, lsn: number, tx: Transaction, now: number): Uint8Array {
    const end = this.snapshotEnd
    if (end.kind === kind && end.lsn === lsn && end.tx === tx && end.now === now) return end.bytes
    // Debezium's initial snapshot rows have no transaction; incremental ones are read inside the window's.
    const source = kind === "initial"
      ? debeziumSource(this.plan, "true", now * 1000, null, lsn, lsn)
      : debeziumSource(this.plan, "incremental", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn)
    const bytes = utf8Bytes(",\"source\":" + source + ",\"transaction\":null" + debeziumValueTail(this.plan, "r", now))
    this.snapshotEnd = { kind, lsn, tx, now, bytes }
    return bytes
  }

  /** `,"source":{...}` around the change's LSN, the op and the times: the value part ends, and the record is made. */
  private finish(out: JsonBytes, op: Op, lsn: number, tx: Transaction, now: number): OutRecord {
    if (this.sourceTx !== tx) {
      const [head, middle, tail] = debeziumSourceParts(this.plan, "false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn)
      this.sourceHead = utf8Bytes(",\"source\":" + head)
      this.sourceMiddle = utf8Bytes(middle)
      this.sourceTail = tail
      this.sourceTx = tx
    }
    if (this.tailNow !== now) {
      this.tailNow = now
      this.tails = {}
    }
    out.bytes(this.sourceHead)
    out.digits(lsn)
    out.bytes(this.sourceMiddle)
    out.digits(lsn)
    const transactions = this.transactions
    if (transactions === undefined) {
      out.bytes(this.tails[op] ??= utf8Bytes(this.sourceTail + ",\"transaction\":null" + debeziumValueTail(this.plan, op, now)))
    } else {
      transactions.next(this.table, lsn)
      out.utf8(this.sourceTail + ",\"transaction\":" + transactions.block())
      out.bytes(this.tails[op] ??= utf8Bytes(debeziumValueTail(this.plan, op, now)))
    }
    out.finishPart()
    return SlabRecord.make(this.topic, this.keyBytes, this.keyStart, this.keyLength, out.partBuf, out.partStart, out.partLength)
  }

  /** Writes the Kafka key as a part of `out` (remembered in `keyBytes`/`keyStart`/`keyLength`); none without key columns. */
  private writeKey(out: JsonBytes, tuple: Tuple): void {
    if (this.keyIndexes.length === 0) {
      this.keyLength = -1
      return
    }
    const plan = this.plan
    out.begin()
    out.bytes(plan.keyPrefixBytes)
    writeKeyJson(out, this.keyPrefixBytes, plan.byteWriters, this.keyIndexes, tuple)
    if (plan.keySuffix !== "") out.byte(0x7d) // '}'
    out.finishPart()
    this.keyBytes = out.partBuf
    this.keyStart = out.partStart
    this.keyLength = out.partLength
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
}

export const debeziumFormat = (context: FormatContext): EventFormat => {
  const topic = context.messagesTopic ?? `outboxx.messages.${context.stream}`
  return {
    table: (shape) => new DebeziumTable(context, shape),
    transactions: context.transactions,
    message: (message, lsn, tx, now, lastCommitted) => {
      const transactions = context.transactions
      if (transactions !== undefined && tx !== undefined) transactions.next(DEBEZIUM_MESSAGE_COLLECTION, lsn)
      const { key, value } = debeziumMessage({
        server: context.stream,
        database: context.database,
        prefix: message.prefix,
        content: message.content,
        lsn,
        previous: tx === undefined ? lsn : tx.previousCommitEndLsn ?? 0,
        tsUs: tx !== undefined ? commitTimeUs(tx) : lastCommitted !== undefined ? commitTimeUs(lastCommitted) : now * 1000,
        txId: tx?.xid ?? null,
        transaction: transactions !== undefined && tx !== undefined ? transactions.block() : "null",
        nowMs: now
      })
      return jsonRecord(topic, key, value)
    }
  }
}
