/**
 * The "outboxx" event format (INTERFACE.md "Change event"):
 * `{"op","before","after"[,"unchanged"],"source":{db,schema,table,lsn,commitLsn,txId,commitTs,snapshot},"ts_ms"}`,
 * the key the key columns' JSON object.
 *
 * Streamed changes are written as UTF-8 bytes straight into the Router's
 * slabs, each value copied from the replication message by its ByteWriter:
 * the hot path allocates one record per event and nothing per column. Every
 * part that depends only on the table, or on the transaction and the batch,
 * is encoded once. Snapshot rows (text from a query) are built as strings.
 */
import { formatLsn } from "../../postgres/lsn.js"
import { isUtf8 } from "node:buffer"
import type { LogicalMessage, Relation } from "../../decode/messages.js"
import type { Tuple } from "../../decode/tuple.js"
import type { EventFormat, FormatContext, Op, SnapshotKind, TableFormat, TableShape, Transaction } from "../EventFormat.js"
import { asciiBytes, type JsonBytes, utf8Bytes } from "../record/JsonBytes.js"
import { jsonRecord, type OutRecord } from "../record/OutRecord.js"
import { SlabRecord } from "../record/SlabRecord.js"
import type { StreamTransactions } from "../TransactionMetadata.js"
import { type ByteWriter, byteWriterFor } from "../values/byteWriters.js"
import { jsonString } from "../values/jsonString.js"
import { keyPrefixBytes, keyPrefixes, textKeyJson, writeKeyJson, writeRowJson } from "../values/rowJson.js"
import type { JsonWriter } from "../values/writers.js"

/** `{"db":..,"schema":..,"table":..,"lsn":"` — once per table. */
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
 * The event value as text. `before`/`after` are JSON object texts or "null";
 * `unchanged` is a JSON array text or undefined.
 */
export const eventValue = (
  op: Op,
  before: string,
  after: string,
  unchanged: string | undefined,
  source: string,
  tsMs: number,
  /** The `transaction` block (transaction metadata), or undefined for none. */
  transaction?: string
): string =>
  opPrefix[op] + before + `,"after":` + after +
  (unchanged === undefined ? "" : `,"unchanged":` + unchanged) +
  `,"source":` + source + (transaction === undefined ? "" : `,"transaction":` + transaction) + `,"ts_ms":` + tsMs + "}"

/** The constant pieces of an event as bytes (the same text as `eventValue`). */
const eventBytes = {
  opBefore: {
    c: asciiBytes(opPrefix.c),
    u: asciiBytes(opPrefix.u),
    d: asciiBytes(opPrefix.d),
    r: asciiBytes(opPrefix.r),
    t: asciiBytes(opPrefix.t)
  } as Record<Op, Uint8Array>,
  after: asciiBytes(`,"after":`),
  transaction: asciiBytes(`,"transaction":`),
  unchanged: asciiBytes(`,"unchanged":`),
  null: asciiBytes("null"),
  /** A snapshot row's start, in one copy. */
  snapshotStart: asciiBytes(`${opPrefix.r}null,"after":`)
}

const NO_BYTES = new Uint8Array(0)

/**
 * What wraps each event of the format (CloudEvents, formats/cloudevents.ts):
 * bytes around the value in the same part, headers, or both. `table` is
 * `schema.table`; `key` the row's key text where the caller has it (snapshot
 * rows), else null.
 */
export interface EventWrap {
  readonly open: (out: JsonBytes, op: Op, lsn: number, tx: Transaction, table: string, key: string | null) => void
  readonly close: (out: JsonBytes) => void
  readonly headers: (op: Op, lsn: number, tx: Transaction, table: string, key: string | null) => Readonly<Record<string, string>> | undefined
  readonly wrapText: (value: string, op: Op, lsn: number, tx: Transaction, table: string, key: string | null) => string
}

/** The format of one stream: what its tables share (scratch space, the per-transaction text). */
export class OutboxxFormat implements EventFormat {
  /** Reused per row: columns of `after` left out as unchanged TOAST values. */
  readonly unchanged: Array<number> = []
  /** The end of an event after its LSN, for one transaction and one `now` (a batch). */
  private tail: { tx: Transaction | undefined; now: number; bytes: Uint8Array } = { tx: undefined, now: -1, bytes: NO_BYTES }
  /** With transaction metadata, the same in two: the source's end (per transaction), then `,"ts_ms":N}` (per batch). */
  private sourceEnd: { tx: Transaction | undefined; bytes: Uint8Array } = { tx: undefined, bytes: NO_BYTES }
  private tsMs: { now: number; bytes: Uint8Array } = { now: -1, bytes: NO_BYTES }
  /** The same for snapshot rows (`"snapshot":true`). */
  private snapshotTail: { tx: Transaction | undefined; now: number; bytes: Uint8Array } = { tx: undefined, now: -1, bytes: NO_BYTES }

  constructor(
    readonly database: string,
    readonly wrap?: EventWrap,
    readonly transactions?: StreamTransactions,
    private readonly messagesTopic?: string
  ) {}

  /**
   * A forwarded logical decoding message: `{"op":"m","before":null,
   * "after":null,"message":{prefix,content,encoding,transactional},
   * "source":{...},"ts_ms"}`, keyed `{"prefix":..}`. `content` is the
   * message's text when it is UTF-8 (`encoding` "utf8"), else its base64.
   */
  message(message: LogicalMessage, lsn: number, tx: Transaction | undefined, now: number): OutRecord {
    const bytes = Buffer.from(message.content.buffer, message.content.byteOffset, message.content.byteLength)
    const utf8 = isUtf8(bytes)
    const prefix = jsonString(message.prefix)
    // Transaction metadata counts a transactional message under `message:<prefix>`.
    const transactions = this.transactions
    let transaction = ""
    if (transactions !== undefined) {
      if (tx !== undefined) transactions.next(`message:${message.prefix}`, lsn)
      transaction = `,"transaction":${tx === undefined ? "null" : transactions.block()}`
    }
    const source = `{"db":${jsonString(this.database)},"schema":null,"table":null,"lsn":"${formatLsn(lsn)}",` +
      (tx === undefined
        ? `"commitLsn":null,"txId":null,"commitTs":null,"snapshot":false}`
        : `"commitLsn":"${formatLsn(tx.commitLsn)}","txId":${tx.xid},"commitTs":"${tx.commitTs}","snapshot":false}`)
    const value = `{"op":"m","before":null,"after":null,"message":{"prefix":${prefix},` +
      `"content":${utf8 ? jsonString(bytes.toString("utf8")) : `"${bytes.toString("base64")}"`},"encoding":"${utf8 ? "utf8" : "base64"}",` +
      `"transactional":${message.transactional}},"source":${source}${transaction},"ts_ms":${now}}`
    return jsonRecord(this.messagesTopic ?? `outboxx.messages`, `{"prefix":${prefix}}`, value)
  }

  table(shape: TableShape): TableFormat {
    return new OutboxxTable(this, shape)
  }

  /** `","commitLsn":..}` + `,"ts_ms":N}` for a streamed change, encoded once per transaction and batch. */
  tailBytes(tx: Transaction, now: number): Uint8Array {
    let tail = this.tail
    if (tail.tx !== tx || tail.now !== now) {
      const suffix = sourceSuffix(formatLsn(tx.commitLsn), tx.xid, tx.commitTs, false)
      tail = { tx, now, bytes: utf8Bytes(`${suffix},"ts_ms":${now}}`) }
      this.tail = tail
    }
    return tail.bytes
  }

  /** `","commitLsn":..}` alone (transaction metadata writes its block after it). */
  sourceEndBytes(tx: Transaction): Uint8Array {
    if (this.sourceEnd.tx !== tx) {
      this.sourceEnd = { tx, bytes: utf8Bytes(sourceSuffix(formatLsn(tx.commitLsn), tx.xid, tx.commitTs, false)) }
    }
    return this.sourceEnd.bytes
  }

  /** `,"ts_ms":N}` alone. */
  tsBytes(now: number): Uint8Array {
    if (this.tsMs.now !== now) this.tsMs = { now, bytes: utf8Bytes(`,"ts_ms":${now}}`) }
    return this.tsMs.bytes
  }

  /** `","commitLsn":..,"snapshot":true},"ts_ms":N}` for a snapshot row, encoded once per transaction and `now`. */
  snapshotTailBytes(tx: Transaction, now: number): Uint8Array {
    let tail = this.snapshotTail
    if (tail.tx !== tx || tail.now !== now) {
      tail = { tx, now, bytes: utf8Bytes(`${sourceSuffix(formatLsn(tx.commitLsn), tx.xid, tx.commitTs, true)},"ts_ms":${now}}`) }
      this.snapshotTail = tail
    }
    return tail.bytes
  }
}

const names = (relation: Relation) => relation.columns.map((c) => c.name)

class OutboxxTable implements TableFormat {
  private readonly topic: string
  private readonly includeMask: ReadonlyArray<boolean>
  private readonly identityMask: ReadonlyArray<boolean>
  private readonly keyIndexes: ReadonlyArray<number>
  private readonly prefixes: ReadonlyArray<string>
  private readonly writers: ReadonlyArray<JsonWriter>
  private readonly prefixBytes: ReadonlyArray<Uint8Array>
  private readonly byteWriters: ReadonlyArray<ByteWriter>
  private readonly keyPrefixes: ReadonlyArray<string>
  private readonly keyPrefixBytes: ReadonlyArray<Uint8Array>
  /** `{"db":..,"schema":..,"table":..,"lsn":"` */
  private readonly source: string
  /** `,"source":` and `source` as UTF-8: what comes before the change's LSN. */
  private readonly sourceBytes: Uint8Array
  /** `schema.table` (a wrap's subject). */
  private readonly table: string
  private readonly wrap: EventWrap | undefined
  /** The key `writeKey` wrote last: `keyBytes[keyStart, keyStart + keyLength)`, length -1 for none. */
  private keyBytes: Uint8Array = NO_BYTES
  private keyStart = 0
  private keyLength = -1
  /** See `snapshotEndBytes`. */
  private snapshotEnd: { lsn: number; tail: Uint8Array; bytes: Uint8Array } = { lsn: -1, tail: NO_BYTES, bytes: NO_BYTES }

  constructor(private readonly format: OutboxxFormat, shape: TableShape) {
    const { relation } = shape
    this.topic = shape.topic
    this.includeMask = shape.includeMask
    this.identityMask = shape.identityMask
    this.keyIndexes = shape.keyIndexes
    this.prefixes = keyPrefixes(names(relation))
    this.writers = relation.columns.map((c) => shape.types.writerOrString(c.typeOid))
    this.prefixBytes = keyPrefixBytes(names(relation))
    this.byteWriters = this.writers.map(byteWriterFor)
    this.keyPrefixes = shape.keyIndexes.map((i) => this.prefixes[i]!)
    this.keyPrefixBytes = shape.keyIndexes.map((i) => this.prefixBytes[i]!)
    this.source = sourcePrefix(format.database, relation.schema, relation.name)
    this.sourceBytes = utf8Bytes(`,"source":${this.source}`)
    this.table = `${relation.schema}.${relation.name}`
    this.wrap = format.wrap
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
    this.writeKey(out, after)
    const unchanged = this.format.unchanged
    unchanged.length = 0
    out.begin()
    if (this.wrap !== undefined) this.wrap.open(out, op, lsn, tx, this.table, null)
    out.bytes(eventBytes.opBefore[op])
    if (before === undefined) out.bytes(eventBytes.null)
    else writeRowJson(out, this.prefixBytes, this.byteWriters, before, beforeIsFull ? this.includeMask : this.identityMask)
    out.bytes(eventBytes.after)
    writeRowJson(out, this.prefixBytes, this.byteWriters, after, this.includeMask, unchanged, beforeIsFull ? before : undefined)
    if (unchanged.length > 0) {
      out.bytes(eventBytes.unchanged)
      for (let k = 0; k < unchanged.length; k++) {
        const prefix = this.prefixBytes[unchanged[k]!]!
        out.byte(k === 0 ? 0x5b : 0x2c) // '[' or ','
        out.range(prefix, 0, prefix.length - 1) // `"name":` without the colon
      }
      out.byte(0x5d) // ']'
    }
    return this.finish(out, op, lsn, tx, now)
  }

  delete(out: JsonBytes, before: Tuple, beforeIsFull: boolean, lsn: number, tx: Transaction, now: number): OutRecord {
    this.writeKey(out, before)
    out.begin()
    if (this.wrap !== undefined) this.wrap.open(out, "d", lsn, tx, this.table, null)
    out.bytes(eventBytes.opBefore.d)
    writeRowJson(out, this.prefixBytes, this.byteWriters, before, beforeIsFull ? this.includeMask : this.identityMask)
    out.bytes(eventBytes.after)
    out.bytes(eventBytes.null)
    return this.finish(out, "d", lsn, tx, now)
  }

  truncate(_out: JsonBytes, lsn: number, tx: Transaction, now: number): OutRecord {
    const source = this.source + formatLsn(lsn) + sourceSuffix(formatLsn(tx.commitLsn), tx.xid, tx.commitTs, false)
    const transactions = this.format.transactions
    if (transactions !== undefined) transactions.next(this.table, lsn)
    return this.textRecord(null, eventValue("t", "null", "null", undefined, source, now, transactions?.block()), "t", lsn, tx)
  }

  /**
   * A snapshot row, written like an insert (`op` "r", `before` null, the
   * source's `snapshot` true, no transaction block: the row is in no
   * transaction of the stream).
   */
  snapshot(out: JsonBytes, row: Tuple, _kind: SnapshotKind, lsn: number, tx: Transaction, now: number): OutRecord {
    this.writeKey(out, row)
    const wrap = this.wrap
    // CloudEvents names a snapshot read by its key (its id): the text is built only when a wrap needs it.
    const key = wrap === undefined ? null : this.keyText(row)
    out.begin()
    if (wrap !== undefined) wrap.open(out, "r", lsn, tx, this.table, key)
    out.bytes(eventBytes.snapshotStart)
    writeRowJson(out, this.prefixBytes, this.byteWriters, row, this.includeMask)
    out.bytes(this.snapshotEndBytes(lsn, tx, now))
    if (wrap !== undefined) wrap.close(out)
    out.finishPart()
    const record = SlabRecord.make(this.topic, this.keyBytes, this.keyStart, this.keyLength, out.partBuf, out.partStart, out.partLength)
    if (wrap !== undefined) record.headers = wrap.headers("r", lsn, tx, this.table, key)
    return record
  }

  /**
   * `,"source":{...,"lsn":"..",...,"snapshot":true},"ts_ms":N}`: every row of
   * a snapshot has the same LSN, so its whole end is one copy, encoded again
   * only when the LSN, the transaction or `now` (per batch) changes.
   */
  private snapshotEndBytes(lsn: number, tx: Transaction, now: number): Uint8Array {
    const tail = this.format.snapshotTailBytes(tx, now)
    let end = this.snapshotEnd
    if (end.lsn !== lsn || end.tail !== tail) {
      const lsnText = asciiBytes(formatLsn(lsn))
      const bytes = new Uint8Array(this.sourceBytes.length + lsnText.length + tail.length)
      bytes.set(this.sourceBytes, 0)
      bytes.set(lsnText, this.sourceBytes.length)
      bytes.set(tail, this.sourceBytes.length + lsnText.length)
      end = { lsn, tail, bytes }
      this.snapshotEnd = end
    }
    return end.bytes
  }

  /** A record built as text (truncates, snapshot rows), wrapped when the format wraps. */
  private textRecord(key: string | null, value: string, op: Op, lsn: number, tx: Transaction): OutRecord {
    const wrap = this.wrap
    if (wrap === undefined) return jsonRecord(this.topic, key, value)
    const record = jsonRecord(this.topic, key, wrap.wrapText(value, op, lsn, tx, this.table, key))
    const headers = wrap.headers(op, lsn, tx, this.table, key)
    return headers === undefined ? record : { ...record, headers }
  }

  keyText(tuple: Tuple): string | null {
    return textKeyJson(this.keyPrefixes, this.writers, this.keyIndexes, tuple.values())
  }

  /** `,"source":{...},"ts_ms":N}`, then the record of the key and the value written since `begin`. */
  private finish(out: JsonBytes, op: Op, lsn: number, tx: Transaction, now: number): OutRecord {
    out.bytes(this.sourceBytes)
    out.lsn(lsn)
    const transactions = this.format.transactions
    if (transactions === undefined) out.bytes(this.format.tailBytes(tx, now))
    else {
      transactions.next(this.table, lsn)
      out.bytes(this.format.sourceEndBytes(tx))
      out.bytes(eventBytes.transaction)
      out.utf8(transactions.block())
      out.bytes(this.format.tsBytes(now))
    }
    const wrap = this.wrap
    if (wrap !== undefined) wrap.close(out)
    out.finishPart()
    const record = SlabRecord.make(this.topic, this.keyBytes, this.keyStart, this.keyLength, out.partBuf, out.partStart, out.partLength)
    if (wrap !== undefined) record.headers = wrap.headers(op, lsn, tx, this.table, null)
    return record
  }

  /** Writes the key columns' JSON object as a part of `out`, remembered in `keyBytes`/`keyStart`/`keyLength`. */
  private writeKey(out: JsonBytes, tuple: Tuple): void {
    const indexes = this.keyIndexes
    if (indexes.length === 0) {
      this.keyBytes = NO_BYTES
      this.keyLength = -1
      return
    }
    out.begin()
    writeKeyJson(out, this.keyPrefixBytes, this.byteWriters, indexes, tuple)
    out.finishPart()
    this.keyBytes = out.partBuf
    this.keyStart = out.partStart
    this.keyLength = out.partLength
  }
}

export const outboxxFormat = (context: FormatContext): EventFormat =>
  new OutboxxFormat(context.database, undefined, context.transactions, context.messagesTopic)
