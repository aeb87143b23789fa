/**
 * Turns decoded pgoutput messages into Kafka records, per stream, in commit
 * order: op `c`/`u`/`d`/`t`, `before`/`after` by replica identity, tombstones,
 * primary-key changes as delete + tombstone + create, the key columns as the
 * Kafka key. Plain synchronous code: it runs once per row.
 *
 * Records are appended to one Outbox per stream; the pipeline hands the
 * outboxes to the stream actors after each batch of messages. Every record is
 * tracked against its transaction in the CheckpointTracker, so the commit LSN
 * is confirmed only once Kafka has acknowledged all of it.
 */
import { Schema } from "effect"
import { jsonRecord, type OutRecord, RejectedRecord } from "../deliver/kafka/batching.js"
import { debeziumKey, debeziumSource, debeziumValue, withPlaceholders } from "../event/formats/debezium/envelope.js"
import { eventBytes, eventValue, type Op, sourceSuffix } from "../event/formats/outboxx.js"
import { formatLsn, pgEpochMicrosToIso, pgEpochMicrosToUnixMs } from "../postgres/lsn.js"
import type { PgoutputMessage, Relation } from "../decode/messages.js"
import { Cell, cellLength, nextCell, Tuple } from "../decode/tuple.js"
import { JsonBytes, utf8Bytes } from "../event/record/JsonBytes.js"
import type { Slab } from "../event/record/SlabPool.js"
import { SlabRecord } from "../event/record/SlabRecord.js"
import { buildRowJson, writeRowJson } from "../event/values/rowJson.js"
import type { CheckpointTracker, TransactionHandle } from "../checkpoint/CheckpointTracker.js"
import type { RelationEntry, TablePlan } from "./TablePlan.js"


/** Records of one stream, with how many belong to each transaction (for acks). */
export interface Outbox {
  records: Array<OutRecord>
  /** Parallel runs: `txs[i]` has `counts[i]` consecutive records. */
  txs: Array<TransactionHandle>
  counts: Array<number>
  /** Commit time (Unix ms) of `txs[i]`, for the commit-to-ack latency. */
  commitTimes: Array<number>
  /** Called once every record of this outbox is delivered (snapshot progress). */
  delivered?: Array<() => void>
  /** Exactly-once: handed over while a PostgreSQL transaction was open (no Kafka commit after it). */
  endsInTransaction?: boolean
  /**
   * The slabs this outbox's record bytes live in, each held once: released
   * (and reused) once every record is delivered (see SlabPool.ts).
   */
  slabs?: Array<Slab>
}

const NO_BYTES = new Uint8Array(0)

/** Bytes of the values of `tuple` that the plan's events carry. */
const includedBytes = (plan: TablePlan, tuple: Tuple): number => {
  let bytes = 0
  let at = tuple.offset
  for (let i = 0; i < tuple.length; i++) {
    const kind = tuple.bytes[at]
    const next = nextCell(tuple.bytes, at)
    if ((kind === Cell.text || kind === Cell.binary) && plan.includeMask[i] === true) bytes += next - at - 5
    at = next
  }
  return bytes
}

export const emptyOutbox = (): Outbox => ({ records: [], txs: [], counts: [], commitTimes: [] })

/** The stream broke the pgoutput rules we rely on, or a value could not be converted. */
export class RoutingError extends Schema.TaggedError<RoutingError>()("RoutingError", {
  lsn: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `at ${this.lsn}: ${this.reason}`
  }
}

export interface RouterStats {
  /** A plan's `statKeys[op]` (`${stream}\u0000${table}\u0000${op}`) -> count, drained by the metrics updater. */
  readonly events: Map<string, number>
  transactions: number
}

/** Receives logical decoding messages (pg_logical_emit_message); the outbox pattern builds on it. */
export type LogicalMessageHandler = (message: Extract<PgoutputMessage, { tag: "Message" }>) => void

/**
 * Sees every row change (old and new tuples) and truncate in stream order,
 * before it is routed: incremental snapshot windows (src/snapshot/window.ts).
 */
export interface ChangeObserver {
  /** A change of a row (its old or new tuple) by transaction `xid`. */
  readonly change: (entry: RelationEntry, tuple: Tuple, xid: number) => void
  readonly truncate: (entry: RelationEntry) => void
}

interface OpenTransaction {
  readonly handle: TransactionHandle
  readonly suffix: string
  readonly commitTimeMs: number
  /** For format "debezium"'s `source` (txId, sequence). */
  readonly xid: number
  readonly commitLsn: number
}

export class Router {
  readonly relations = new Map<number, RelationEntry>()
  readonly outboxes: Array<Outbox>
  readonly stats: RouterStats = { events: new Map(), transactions: 0 }
  private tx: OpenTransaction | undefined = undefined
  /** Wall clock for ts_ms, read once per batch rather than once per row. */
  now = Date.now()
  /** Where outboxx events are written (see JsonBytes). */
  private readonly out = new JsonBytes()
  /** The key `writeKey` wrote last: `keyBytes[keyStart, keyStart + keyLength)`, length -1 for none. */
  private keyBytes: Uint8Array = NO_BYTES
  private keyStart = 0
  private keyLength = -1
  /** Reused per row: columns of `after` left out as unchanged TOAST values. */
  private readonly unchanged: Array<number> = []
  /** The end of an event after its LSN, for one transaction and `now`. */
  private eventTail: { tx: OpenTransaction | undefined; now: number; bytes: Uint8Array } = {
    tx: undefined,
    now: -1,
    bytes: new Uint8Array(0)
  }
  observer: ChangeObserver | undefined = undefined

  constructor(
    streamCount: number,
    private readonly tracker: CheckpointTracker,
    private readonly onLogicalMessage: LogicalMessageHandler = () => {},
    /**
     * The largest record a topic accepts (RecordSink.recordLimit); undefined
     * = no limit known. A change that cannot fit is never built (see `tooLarge`).
     */
    private readonly recordLimit: ((topic: string) => number | undefined) | undefined = undefined
  ) {
    this.outboxes = Array.from({ length: streamCount }, emptyOutbox)
  }

  /** True while a transaction is open (between Begin and Commit). */
  get inTransaction(): boolean {
    return this.tx !== undefined
  }

  setRelation(entry: RelationEntry): void {
    const limitOf = this.recordLimit
    if (limitOf !== undefined) entry.recordLimits = entry.plans.map((plan) => limitOf(plan.topic) ?? Infinity)
    this.relations.set(entry.relation.relationId, entry)
  }

  /**
   * Routes one message received at `lsn`. Relation messages must be planned
   * by the caller (it needs the catalog) and passed to `setRelation` first.
   * Throws RoutingError (or a value conversion error) on input it cannot handle.
   */
  route(lsn: number, message: PgoutputMessage): void {
    switch (message.tag) {
      case "Begin": {
        if (this.tx !== undefined) throw this.error(lsn, "Begin inside an open transaction")
        const handle = this.tracker.beginTransaction(message.xid, 0, message.finalLsn)
        this.tx = {
          handle,
          suffix: sourceSuffix(formatLsn(message.finalLsn), message.xid, pgEpochMicrosToIso(message.commitTime), false),
          commitTimeMs: pgEpochMicrosToUnixMs(message.commitTime),
          xid: message.xid,
          commitLsn: message.finalLsn
        }
        return
      }
      case "Commit": {
        const tx = this.requireTx(lsn, "Commit")
        this.tracker.commit(tx.handle, message.endLsn)
        this.tx = undefined
        this.stats.transactions++
        return
      }
      case "Insert": {
        const tx = this.requireTx(lsn, "Insert")
        const entry = this.entry(lsn, message.relationId)
        if (this.observer !== undefined) this.observer.change(entry, message.newTuple, tx.xid)
        const limits = entry.recordLimits
        for (let p = 0; p < entry.plans.length; p++) {
          const plan = entry.plans[p]!
          if (!plan.emits.insert) continue
          // One comparison per row: the tuple's bytes are its message's (or a 64 KB slab shared by small ones).
          if (limits !== undefined && message.newTuple.bytes.length > limits[p]! &&
            this.tooLarge(plan, tx, lsn, "c", undefined, message.newTuple, limits[p]!)) continue
          this.emitRow(plan, tx, lsn, "c", undefined, message.newTuple)
        }
        return
      }
      case "Update": {
        const tx = this.requireTx(lsn, "Update")
        const entry = this.entry(lsn, message.relationId)
        if (this.observer !== undefined) {
          this.observer.change(entry, message.newTuple, tx.xid)
          if (message.oldTuple !== undefined) this.observer.change(entry, message.oldTuple, tx.xid)
        }
        const limits = entry.recordLimits
        for (let p = 0; p < entry.plans.length; p++) {
          const plan = entry.plans[p]!
          if (!plan.emits.update) continue
          if (limits !== undefined && message.newTuple.bytes.length > limits[p]! &&
            this.tooLarge(plan, tx, lsn, "u", message.oldKind === "full" ? message.oldTuple : undefined, message.newTuple, limits[p]!)) continue
          this.emitUpdate(plan, tx, lsn, message.oldKind, message.oldTuple, message.newTuple)
        }
        return
      }
      case "Delete": {
        const tx = this.requireTx(lsn, "Delete")
        const entry = this.entry(lsn, message.relationId)
        if (this.observer !== undefined) this.observer.change(entry, message.oldTuple, tx.xid)
        const limits = entry.recordLimits
        for (let p = 0; p < entry.plans.length; p++) {
          const plan = entry.plans[p]!
          if (!plan.emits.delete) continue
          if (limits !== undefined && message.oldTuple.bytes.length > limits[p]! &&
            this.tooLarge(plan, tx, lsn, "d", message.oldKind === "full" ? message.oldTuple : undefined, undefined, limits[p]!)) continue
          this.emitDelete(plan, tx, lsn, message.oldKind, message.oldTuple)
        }
        return
      }
      case "Truncate": {
        const tx = this.requireTx(lsn, "Truncate")
        for (const relationId of message.relationIds) {
          const entry = this.entry(lsn, relationId)
          if (this.observer !== undefined) this.observer.truncate(entry)
          for (const plan of entry.plans) {
            if (!plan.emits.truncate) continue
            const value = plan.debezium === undefined
              ? eventValue("t", "null", "null", undefined, this.source(plan, tx, lsn), this.now)
              : debeziumValue(plan.debezium, "t", "null", "null", this.debeziumSource(plan, tx, lsn), this.now)
            this.pushText(plan, tx, null, value, "t")
          }
        }
        return
      }
      case "Message":
        this.onLogicalMessage(message)
        return
      case "Relation":
        if (!this.relations.has(message.relationId)) {
          throw this.error(lsn, `Relation ${message.schema}.${message.name} was not planned`)
        }
        return
      case "Type":
      case "Origin":
        // Types are resolved from pg_type when a Relation arrives; origins are not filtered.
        return
      default:
        // Streaming and two-phase messages come only when we ask for them, and we do not.
        throw this.error(lsn, `unexpected ${message.tag} message: streaming and two-phase decoding are not enabled`)
    }
  }

  /**
   * A snapshot row (`op: "r"`, `source.snapshot` true) inside the open
   * transaction (an incremental snapshot's high watermark), tracked like any
   * change so the checkpoint never passes it undelivered.
   */
  emitSnapshotRow(lsn: number, plan: TablePlan, key: string | null, afterJson: string): void {
    const tx = this.requireTx(lsn, "snapshot row")
    let value: string
    if (plan.debezium === undefined) {
      const suffix = tx.suffix.slice(0, tx.suffix.lastIndexOf(`"snapshot":false}`)) + `"snapshot":true}`
      value = eventValue("r", "null", afterJson, undefined, plan.source + formatLsn(lsn) + suffix, this.now)
    } else {
      const source = debeziumSource(plan.debezium, "incremental", tx.commitTimeMs, tx.xid, tx.commitLsn, lsn)
      value = debeziumValue(plan.debezium, "r", "null", afterJson, source, this.now)
    }
    this.pushText(plan, tx, key, value, "r")
  }

  private emitUpdate(
    plan: TablePlan,
    tx: OpenTransaction,
    lsn: number,
    oldKind: "key" | "full" | undefined,
    oldTuple: Tuple | undefined,
    newTuple: Tuple
  ): void {
    if (oldTuple !== undefined && this.keyChanged(plan, oldTuple, newTuple, oldKind !== "full")) {
      // A primary-key change: the old key disappears, the new one appears.
      this.emitDelete(plan, tx, lsn, oldKind ?? "key", oldTuple)
      this.emitRow(plan, tx, lsn, "c", undefined, newTuple)
      return
    }
    this.emitRow(plan, tx, lsn, "u", oldTuple ?? newTuple, newTuple, oldKind === "full")
  }

  /**
   * An insert (`before` undefined) or an update. For an update without a full
   * old row, `before` holds the replica identity columns only.
   *
   * Format "outboxx" writes the event's bytes straight from the tuples'
   * bytes; format "debezium" builds it as text from the values.
   */
  private emitRow(
    plan: TablePlan,
    tx: OpenTransaction,
    lsn: number,
    op: Op,
    before: Tuple | undefined,
    after: Tuple,
    beforeIsFull = false
  ): void {
    if (plan.debezium !== undefined) return this.emitDebeziumRow(plan, tx, lsn, op, before, after, beforeIsFull)
    const out = this.out
    this.writeKey(plan, after, lsn)
    const unchanged = this.unchanged
    unchanged.length = 0
    out.begin()
    out.bytes(eventBytes.opBefore[op])
    if (before === undefined) out.bytes(eventBytes.null)
    else writeRowJson(out, plan.prefixBytes, plan.byteWriters, before, beforeIsFull ? plan.includeMask : plan.identityMask)
    out.bytes(eventBytes.after)
    writeRowJson(out, plan.prefixBytes, plan.byteWriters, after, plan.includeMask, unchanged, beforeIsFull ? before : undefined)
    if (unchanged.length > 0) {
      out.bytes(eventBytes.unchanged)
      for (let k = 0; k < unchanged.length; k++) {
        const prefix = plan.prefixBytes[unchanged[k]!]!
        out.byte(k === 0 ? 0x5b : 0x2c) // '[' or ','
        out.range(prefix, 0, prefix.length - 1) // `"name":` without the colon
      }
      out.byte(0x5d) // ']'
    }
    this.writeSourceAndTime(plan, tx, lsn)
    this.pushEvent(plan, tx, op)
  }

  private emitDebeziumRow(
    plan: TablePlan,
    tx: OpenTransaction,
    lsn: number,
    op: Op,
    before: Tuple | undefined,
    after: Tuple,
    beforeIsFull: boolean
  ): void {
    const debezium = plan.debezium!
    const afterValues = after.values()
    const beforeValues = before?.values()
    const unchanged: Array<number> = []
    const afterJson = buildRowJson(
      plan.prefixes,
      plan.writers,
      afterValues,
      plan.includeMask,
      unchanged,
      beforeIsFull ? beforeValues : undefined
    )
    const beforeJson = beforeValues === undefined
      ? "null"
      : buildRowJson(plan.prefixes, plan.writers, beforeValues, beforeIsFull ? plan.includeMask : plan.identityMask)
    const afterWithPlaceholders = unchanged.length === 0
      ? afterJson
      : withPlaceholders(debezium, plan.prefixes, afterJson, unchanged)
    const value = debeziumValue(debezium, op, beforeJson, afterWithPlaceholders, this.debeziumSource(plan, tx, lsn), this.now)
    this.pushText(plan, tx, this.keyText(plan, after, lsn), value, op)
  }

  private emitDelete(
    plan: TablePlan,
    tx: OpenTransaction,
    lsn: number,
    oldKind: "key" | "full",
    oldTuple: Tuple
  ): void {
    const mask = oldKind === "full" ? plan.includeMask : plan.identityMask
    if (plan.debezium === undefined) {
      const out = this.out
      this.writeKey(plan, oldTuple, lsn)
      out.begin()
      out.bytes(eventBytes.opBefore.d)
      writeRowJson(out, plan.prefixBytes, plan.byteWriters, oldTuple, mask)
      out.bytes(eventBytes.after)
      out.bytes(eventBytes.null)
      this.writeSourceAndTime(plan, tx, lsn)
      const record = this.pushEvent(plan, tx, "d")
      if (plan.tombstones) this.pushRecord(plan, tx, record.tombstone(), undefined)
      return
    }
    const before = buildRowJson(plan.prefixes, plan.writers, oldTuple.values(), mask)
    const key = this.keyText(plan, oldTuple, lsn)
    const value = debeziumValue(plan.debezium, "d", before, "null", this.debeziumSource(plan, tx, lsn), this.now)
    this.pushText(plan, tx, key, value, "d")
    if (plan.tombstones) this.pushText(plan, tx, key, null, undefined)
  }

  /**
   * `,"source":{...},"ts_ms":N}`: the end of an outboxx event. All of it but
   * the change's LSN is the same for the rows of a transaction within a batch,
   * so that part is encoded once.
   */
  private writeSourceAndTime(plan: TablePlan, tx: OpenTransaction, lsn: number): void {
    const out = this.out
    out.bytes(plan.sourceBytes)
    out.lsn(lsn)
    let tail = this.eventTail
    if (tail.tx !== tx || tail.now !== this.now) {
      tail = { tx, now: this.now, bytes: utf8Bytes(`${tx.suffix},"ts_ms":${this.now}}`) }
      this.eventTail = tail
    }
    out.bytes(tail.bytes)
  }

  /**
   * Whether an update changed the Kafka key. Columns the server did not send
   * cannot tell: unchanged TOAST values, and, in a key-only old tuple ('K'),
   * the columns outside the replica identity, which it sends as null (identity
   * columns are never null: they belong to a primary key or a unique index on
   * NOT NULL columns).
   */
  private keyChanged(plan: TablePlan, oldTuple: Tuple, newTuple: Tuple, keyOnly: boolean): boolean {
    for (const i of plan.keyIndexes) {
      if (i >= oldTuple.length || i >= newTuple.length) continue
      const oldKind = oldTuple.kind(i)
      if (oldKind === Cell.unchanged || newTuple.kind(i) === Cell.unchanged) continue
      if (keyOnly && oldKind === Cell.null) continue
      if (!Tuple.sameCell(oldTuple, newTuple, i)) return true
    }
    return false
  }

  private missingKey(plan: TablePlan, tuple: Tuple, lsn: number): RoutingError | undefined {
    for (let k = 0; k < plan.keyIndexes.length; k++) {
      const i = plan.keyIndexes[k]!
      if (i >= tuple.length || tuple.kind(i) === Cell.unchanged) {
        return this.error(lsn, `key column ${plan.keyPrefixes[k]!.slice(0, -1)} of ${plan.source} was not sent by the server`)
      }
    }
    return undefined
  }

  /**
   * Writes the Kafka key of an outboxx event (the key columns' JSON object)
   * as a part of `out`, remembered in `keyBytes`/`keyStart`/`keyLength`.
   */
  private writeKey(plan: TablePlan, tuple: Tuple, lsn: number): void {
    const indexes = plan.keyIndexes
    if (indexes.length === 0) {
      this.keyBytes = NO_BYTES
      this.keyLength = -1
      return
    }
    const missing = this.missingKey(plan, tuple, lsn)
    if (missing !== undefined) throw missing
    const out = this.out
    out.begin()
    out.byte(0x7b) // '{'
    for (let k = 0; k < indexes.length; k++) {
      const i = indexes[k]!
      if (k > 0) out.byte(0x2c)
      out.bytes(plan.keyPrefixBytes[k]!)
      const at = tuple.cellAt(i)
      const kind = tuple.bytes[at]
      if (kind === Cell.null) out.bytes(eventBytes.null)
      else {
        const end = at + 5 + cellLength(tuple.bytes, at)
        if (kind === Cell.text) plan.byteWriters[i]!(out, tuple.bytes, at + 5, end)
        else out.utf8(`"${tuple.bytes.toString("base64", at + 5, end)}"`)
      }
    }
    out.byte(0x7d) // '}'
    out.finishPart()
    this.keyBytes = out.partBuf
    this.keyStart = out.partStart
    this.keyLength = out.partLength
  }

  /** The Kafka key of a debezium event, as text. */
  private keyText(plan: TablePlan, tuple: Tuple, lsn: number): string | null {
    const json = this.keyJson(plan, tuple, lsn)
    return json === null ? null : debeziumKey(plan.debezium!, json)
  }

  /** The key columns as a JSON object, as text (null without key columns). */
  private keyJson(plan: TablePlan, tuple: Tuple, lsn: number): string | null {
    const indexes = plan.keyIndexes
    if (indexes.length === 0) return null
    const missing = this.missingKey(plan, tuple, lsn)
    if (missing !== undefined) throw missing
    let out = "{"
    for (let k = 0; k < indexes.length; k++) {
      const value = tuple.value(indexes[k]!)
      const fragment = typeof value === "string"
        ? plan.writers[indexes[k]!]!(value)
        : value === null
        ? "null"
        : `"${Buffer.from(value as Uint8Array).toString("base64")}"`
      out += (k === 0 ? "" : ",") + plan.keyPrefixes[k] + fragment
    }
    return out + "}"
  }

  /**
   * A change whose event cannot fit its topic (`limit` bytes) is not built:
   * a 100 MB value would cost several times that in JSON and record copies,
   * only for the broker to refuse it. The stream gets a RejectedRecord in its
   * place (key, op, position and size), which the sink refuses for good, so
   * it goes to the dead-letter topic or stops the stream: never silently
   * skipped, and the changes after it flow. Returns false when the columns
   * the stream takes fit after all (the row's excluded columns were the bulk).
   *
   * The estimate is a lower bound of the event: every value's JSON is at
   * least 2/3 of its text (bytea's hex text as base64 is the most compact).
   */
  private tooLarge(
    plan: TablePlan,
    tx: OpenTransaction,
    lsn: number,
    op: Op,
    before: Tuple | undefined,
    after: Tuple | undefined,
    limit: number
  ): boolean {
    const bytes = Math.floor(((before === undefined ? 0 : includedBytes(plan, before)) +
      (after === undefined ? 0 : includedBytes(plan, after))) * 2 / 3)
    if (bytes <= limit) return false
    const keyTuple = (after ?? before)!
    const key = this.keyJson(plan, keyTuple, lsn)
    const reason = `the "${op}" change at ${formatLsn(lsn)} (xid ${tx.xid}) is at least ${bytes} bytes as an event; ` +
      `topic ${plan.topic} accepts at most ${limit} (its max.message.bytes, within the broker's socket.request.max.bytes)`
    const value = JSON.stringify({ op, oversized: { bytes, limit }, lsn: formatLsn(lsn), commitLsn: formatLsn(tx.commitLsn), txId: tx.xid })
    this.pushRecord(plan, tx, new RejectedRecord(plan.topic, key, value, reason), op)
    return true
  }

  private source(plan: TablePlan, tx: OpenTransaction, lsn: number): string {
    return plan.source + formatLsn(lsn) + tx.suffix
  }

  private debeziumSource(plan: TablePlan, tx: OpenTransaction, lsn: number): string {
    return debeziumSource(plan.debezium!, "false", tx.commitTimeMs, tx.xid, tx.commitLsn, lsn)
  }

  private pushText(plan: TablePlan, tx: OpenTransaction, key: string | null, value: string | null, op: Op | undefined): void {
    this.pushRecord(plan, tx, jsonRecord(plan.topic, key, value), op)
  }

  /** Pushes the record of the key from `writeKey` and the value written into `out` since. */
  private pushEvent(plan: TablePlan, tx: OpenTransaction, op: Op): SlabRecord {
    const out = this.out
    out.finishPart()
    const record = SlabRecord.make(plan.topic, this.keyBytes, this.keyStart, this.keyLength, out.partBuf, out.partStart, out.partLength)
    this.pushRecord(plan, tx, record, op)
    // The outbox now holds the slabs the key and value were written into.
    out.takeSlabs(this.outboxes[plan.streamIndex]!.slabs ??= [])
    return record
  }

  private pushRecord(plan: TablePlan, tx: OpenTransaction, record: OutRecord, op: Op | undefined): void {
    const outbox = this.outboxes[plan.streamIndex]!
    outbox.records.push(record)
    const last = outbox.txs.length - 1
    if (last >= 0 && outbox.txs[last] === tx.handle) outbox.counts[last]!++
    else {
      outbox.txs.push(tx.handle)
      outbox.counts.push(1)
      outbox.commitTimes.push(tx.commitTimeMs)
    }
    this.tracker.track(tx.handle, 1)
    if (op !== undefined) {
      const stat = plan.statKeys[op]
      this.stats.events.set(stat, (this.stats.events.get(stat) ?? 0) + 1)
    }
  }

  private requireTx(lsn: number, what: string): OpenTransaction {
    if (this.tx === undefined) throw this.error(lsn, `${what} outside a transaction`)
    return this.tx
  }

  private entry(lsn: number, relationId: number): RelationEntry {
    const entry = this.relations.get(relationId)
    if (entry === undefined) throw this.error(lsn, `change for relation ${relationId} before its Relation message`)
    return entry
  }

  private error(lsn: number, reason: string): RoutingError {
    return new RoutingError({ lsn: formatLsn(lsn), reason })
  }
}

export type { Relation }
