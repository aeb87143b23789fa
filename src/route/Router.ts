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
import type { CheckpointTracker, TransactionHandle } from "../checkpoint/CheckpointTracker.js"
import type { LogicalMessage, PgoutputMessage, Relation } from "../decode/messages.js"
import { Cell, nextCell, Tuple } from "../decode/tuple.js"
import { emptyOutbox, type Outbox } from "../deliver/Outbox.js"
import type { EventFormat, Op, TextRow, Transaction } from "../event/EventFormat.js"
import type { StreamTransactions } from "../event/TransactionMetadata.js"
import { JsonBytes } from "../event/record/JsonBytes.js"
import { type OutRecord, RejectedRecord, tombstoneOf } from "../event/record/OutRecord.js"
import { formatLsn, PG_EPOCH_UNIX_US, pgEpochMicrosToIso, pgEpochMicrosToUnixMs } from "../postgres/lsn.js"
import { PUBLISH_PREFIX } from "../outbox/message.js"
import { signalPrefix, watermarkPrefix } from "../snapshot/messages.js"
import { globMatcher } from "../config/topic.js"
import type { OutboxxSettings } from "../config/model.js"
import type { PublishRoute } from "../outbox/route.js"
import type { RelationEntry, TablePlan } from "./TablePlan.js"

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
  /** `outboxx.publish` messages seen by a pipeline without `[outbox]` (another pipeline may deliver them). */
  ignoredPublished: number
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

/** The transaction between Begin and Commit: what formats see of it, and its checkpoint handle. */
/**
 * What an incremental snapshot may do inside the stream, and nothing more:
 * emit the rows a watermark window read (`op: "r"`) inside the open
 * transaction at the high watermark, and learn when they are delivered.
 */
export interface SnapshotRowSink {
  /**
   * Emits each row to the streams of its plans, tracked like any change (the
   * checkpoint never passes them undelivered); `onDelivered` runs once every
   * one of them is delivered (at once when none was emitted).
   */
  readonly emitSnapshotRows: (
    lsn: number,
    rows: ReadonlyArray<{ readonly row: Tuple; readonly plans: ReadonlyArray<TablePlan> }>,
    onDelivered: () => void
  ) => void
}

export interface RouterOptions {
  /** Sees every change before it is routed (incremental snapshot windows). */
  readonly observer?: ChangeObserver | undefined
  /** Receives logical decoding messages (pg_logical_emit_message). */
  readonly onLogicalMessage?: LogicalMessageHandler | undefined
  /**
   * The largest record a topic accepts (RecordSink.recordLimit); undefined =
   * no limit known. A change that cannot fit is never built (see `tooLarge`).
   */
  readonly recordLimit?: ((topic: string) => number | undefined) | undefined
  /** The WAL-message outbox (`[outbox]`): messages of `outboxx.publish` go to its lane; absent = they are counted as ignored. */
  readonly publish?: PublishRoute | undefined
  /** Streams that forward logical decoding messages (`messages`): see messageRoutes. */
  readonly messages?: ReadonlyArray<MessageRoute> | undefined
}

/** A stream that forwards the logical decoding messages whose prefix `matches`, through its format. */
export interface MessageRoute {
  readonly lane: number
  readonly matches: (prefix: string) => boolean
  readonly format: EventFormat
}

/** Outboxx's own prefixes (snapshot watermarks and signals, outboxx.publish): never forwarded as message events. */
const ownPrefixes: ReadonlySet<string> = new Set([watermarkPrefix, signalPrefix, PUBLISH_PREFIX])

/** The message routes of the streams with `messages`, each through the stream's format (`formats[s]`). */
export const messageRoutes = (settings: Pick<OutboxxSettings, "streams">, formats: ReadonlyArray<EventFormat>): ReadonlyArray<MessageRoute> =>
  settings.streams.flatMap((stream, lane) =>
    stream.messages.length === 0 ? [] : [{ lane, matches: globMatcher(stream.messages), format: formats[lane]! }]
  )

interface OpenTransaction extends Transaction {
  readonly handle: TransactionHandle
}

export class Router implements SnapshotRowSink {
  private readonly relations = new Map<number, RelationEntry>()
  /** One per stream, filled by `route` and handed over by `takeOutboxes`. */
  private outboxes: Array<Outbox>
  private stats: RouterStats = { events: new Map(), transactions: 0, ignoredPublished: 0 }
  private tx: OpenTransaction | undefined = undefined
  /** The end LSN of the last Commit routed (0 before the first): Debezium's `sequence` names it. */
  private lastCommitEnd = 0
  /** Wall clock for ts_ms, read once per batch (`startBatch`) rather than once per row. */
  private now = Date.now()
  /** Where formats that write bytes write events; its slabs go to the outbox of each record (see JsonBytes). */
  private readonly out = new JsonBytes()
  private readonly observer: ChangeObserver | undefined
  private readonly onLogicalMessage: LogicalMessageHandler
  private readonly recordLimit: ((topic: string) => number | undefined) | undefined
  /** The plans (table x stream) that got records in this batch, only while a batch is traced. */
  private batchPlans: Set<TablePlan> | undefined = undefined

  private readonly publish: PublishRoute | undefined
  private readonly messages: ReadonlyArray<MessageRoute>
  /** Plans whose stream wrote a BEGIN in the open transaction (one per stream): their END follows at Commit. */
  private readonly entered: Array<{ readonly lane: number; readonly transactions: StreamTransactions }> = []
  /** The last transaction committed: Debezium's non-transactional message events carry its time. */
  private lastCommitted: OpenTransaction | undefined = undefined

  /** `laneCount`: one delivery lane per stream, then the outbox's when `publish` is given (deliver/lanes.ts). */
  constructor(
    private readonly laneCount: number,
    private readonly tracker: CheckpointTracker,
    options: RouterOptions = {}
  ) {
    this.outboxes = Array.from({ length: laneCount }, emptyOutbox)
    this.observer = options.observer
    this.onLogicalMessage = options.onLogicalMessage ?? (() => {})
    this.recordLimit = options.recordLimit
    this.publish = options.publish
    this.messages = options.messages ?? []
  }

  /**
   * Starts a batch of messages: the wall clock its events carry as ts_ms.
   * `traced`: note which tables and topics the batch touches (`batchPlansTaken`).
   */
  startBatch(now: number, traced = false): void {
    this.now = now
    this.batchPlans = traced ? new Set() : undefined
  }

  /** The plans that got records since `startBatch(now, true)`. */
  batchPlansTaken(): ReadonlySet<TablePlan> {
    const plans = this.batchPlans ?? new Set<TablePlan>()
    this.batchPlans = undefined
    return plans
  }

  /**
   * The outboxes filled since the last call, per stream (an empty one where a
   * stream got nothing); the Router starts new ones.
   */
  takeOutboxes(): Array<Outbox> {
    const taken = this.outboxes
    this.outboxes = Array.from({ length: this.laneCount }, emptyOutbox)
    return taken
  }

  /** The outbox being filled for `stream` (for inspection; `takeOutboxes` hands them over). */
  outbox(stream: number): Outbox {
    return this.outboxes[stream]!
  }

  /** Events per stream, table and op, and committed transactions, since the last call (for the metrics). */
  takeStats(): RouterStats {
    const taken = this.stats
    this.stats = { events: new Map(), transactions: 0, ignoredPublished: 0 }
    return taken
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
        const commitTimeMs = pgEpochMicrosToUnixMs(message.commitTime)
        const handle = this.tracker.beginTransaction(message.xid, 0, message.finalLsn, commitTimeMs)
        this.tx = {
          handle,
          xid: message.xid,
          commitLsn: message.finalLsn,
          commitTimeMs,
          commitTimeUs: message.commitTime + PG_EPOCH_UNIX_US,
          previousCommitEndLsn: this.lastCommitEnd,
          commitTs: pgEpochMicrosToIso(message.commitTime)
        }
        return
      }
      case "Commit": {
        const tx = this.requireTx(lsn, "Commit")
        // Transaction metadata: each stream that had events of it ends it, after all of them.
        for (let i = 0; i < this.entered.length; i++) {
          const { lane, transactions } = this.entered[i]!
          this.pushToLane(lane, tx.handle, transactions.end(message.endLsn))
        }
        this.entered.length = 0
        this.lastCommitted = tx
        this.tracker.commit(tx.handle, message.endLsn)
        this.lastCommitEnd = message.endLsn
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
          this.emitRow(plan, tx, lsn, "c", undefined, message.newTuple, false)
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
            this.enter(plan, tx, lsn)
            this.pushRecord(plan, tx, plan.format.truncate(this.out, lsn, tx, this.now), "t")
          }
        }
        return
      }
      case "Message":
        if (message.prefix === PUBLISH_PREFIX) this.routePublished(lsn, message)
        else {
          this.onLogicalMessage(message)
          if (this.messages.length > 0 && !ownPrefixes.has(message.prefix)) this.routeMessage(lsn, message)
        }
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
   * Rows (`op: "r"`) an incremental snapshot read, emitted inside the open
   * transaction (its high watermark's): see SnapshotRowSink.
   */
  emitSnapshotRows(
    lsn: number,
    rows: ReadonlyArray<{ readonly row: Tuple; readonly plans: ReadonlyArray<TablePlan> }>,
    onDelivered: () => void
  ): void {
    const tx = this.requireTx(lsn, "snapshot row")
    const streams = new Set<number>()
    for (const { plans, row } of rows) {
      for (const plan of plans) {
        this.pushRecord(plan, tx, plan.format.snapshot(this.out, row, "incremental", lsn, tx, this.now), "r")
        streams.add(plan.streamIndex)
      }
    }
    if (streams.size === 0) return onDelivered()
    let remaining = streams.size
    const delivered = () => {
      if (--remaining === 0) onDelivered()
    }
    for (const s of streams) (this.outboxes[s]!.delivered ??= []).push(delivered)
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
      if (plan.format.keyChange !== undefined) {
        this.checkKey(plan, oldTuple, lsn)
        this.checkKey(plan, newTuple, lsn)
        this.enter(plan, tx, lsn)
        const [deleted, created] = plan.format.keyChange(this.out, oldTuple, oldKind === "full", newTuple, lsn, tx, this.now)
        this.pushRecord(plan, tx, deleted, "d")
        if (plan.tombstones) this.pushRecord(plan, tx, tombstoneOf(deleted), undefined)
        this.pushRecord(plan, tx, created, "c")
        return
      }
      this.emitDelete(plan, tx, lsn, oldKind ?? "key", oldTuple)
      this.emitRow(plan, tx, lsn, "c", undefined, newTuple, false)
      return
    }
    this.emitRow(plan, tx, lsn, "u", oldTuple ?? newTuple, newTuple, oldKind === "full")
  }

  /**
   * An insert (`before` undefined) or an update. For an update without a full
   * old row, `before` holds the replica identity columns only.
   */
  private emitRow(
    plan: TablePlan,
    tx: OpenTransaction,
    lsn: number,
    op: "c" | "u",
    before: Tuple | undefined,
    after: Tuple,
    beforeIsFull: boolean
  ): void {
    if (plan.keyIndexes.length > 0) this.checkKey(plan, after, lsn)
    if (plan.transactions !== undefined) this.enter(plan, tx, lsn)
    this.pushRecord(plan, tx, plan.format.row(this.out, op, before, beforeIsFull, after, lsn, tx, this.now), op)
  }

  private emitDelete(
    plan: TablePlan,
    tx: OpenTransaction,
    lsn: number,
    oldKind: "key" | "full",
    oldTuple: Tuple
  ): void {
    if (plan.keyIndexes.length > 0) this.checkKey(plan, oldTuple, lsn)
    if (plan.transactions !== undefined) this.enter(plan, tx, lsn)
    const record = plan.format.delete(this.out, oldTuple, oldKind === "full", lsn, tx, this.now)
    this.pushRecord(plan, tx, record, "d")
    if (plan.tombstones) this.pushRecord(plan, tx, tombstoneOf(record), undefined)
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

  /** Every key column must have been sent: a key made up of what is missing would be a wrong key. */
  private checkKey(plan: TablePlan, tuple: Tuple, lsn: number): void {
    const indexes = plan.keyIndexes
    for (let k = 0; k < indexes.length; k++) {
      const i = indexes[k]!
      if (i >= tuple.length || tuple.kind(i) === Cell.unchanged) {
        throw this.error(lsn, `key column ${JSON.stringify(plan.keyNames[k])} of ${plan.table} was not sent by the server`)
      }
    }
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
    if (plan.keyIndexes.length > 0) this.checkKey(plan, keyTuple, lsn)
    const key = plan.format.keyText(keyTuple)
    const reason = `the "${op}" change at ${formatLsn(lsn)} (xid ${tx.xid}) is at least ${bytes} bytes as an event; ` +
      `topic ${plan.topic} accepts at most ${limit} (its max.message.bytes, within the broker's socket.request.max.bytes)`
    const value = JSON.stringify({ op, oversized: { bytes, limit }, lsn: formatLsn(lsn), commitLsn: formatLsn(tx.commitLsn), txId: tx.xid })
    this.pushRecord(plan, tx, new RejectedRecord(plan.topic, key, value, reason), op)
    return true
  }

  /**
   * Transaction metadata: the first event of `tx` in the plan's stream is
   * preceded by the stream's BEGIN; the stream ends the transaction at its
   * Commit (`entered`).
   */
  private enter(plan: TablePlan, tx: OpenTransaction, lsn: number): void {
    if (plan.transactions !== undefined) this.enterLane(plan.streamIndex, plan.transactions, tx, lsn)
  }

  private enterLane(lane: number, transactions: StreamTransactions, tx: OpenTransaction, lsn: number): void {
    if (transactions.current === tx) return
    this.pushToLane(lane, tx.handle, transactions.start(tx, lsn))
    this.entered.push({ lane, transactions })
  }

  /**
   * A message of `outboxx.publish`, at its place in its transaction, to the
   * outbox's lane. One outside a transaction (not written by publish, which
   * writes transactional ones) is tracked as a transaction of its own that
   * ends at its LSN, so its dead letter is confirmed like any change.
   */
  private routePublished(lsn: number, message: LogicalMessage): void {
    const publish = this.publish
    if (publish === undefined) {
      this.stats.ignoredPublished++
      return
    }
    const tx = this.tx
    if (tx !== undefined) {
      this.pushToLane(publish.lane, tx.handle, publish.record(message, tx.xid, tx.commitLsn))
      return
    }
    const handle = this.outsideTransaction(lsn)
    this.pushToLane(publish.lane, handle, publish.record(message, 0, 0))
    this.tracker.commit(handle, lsn)
  }

  /**
   * A logical decoding message to each stream that forwards its prefix, as
   * the stream's format writes it: inside its transaction, or (a
   * non-transactional message) as a transaction of its own ending at its LSN.
   */
  private routeMessage(lsn: number, message: LogicalMessage): void {
    const tx = this.tx
    let handle: TransactionHandle | undefined = tx?.handle
    for (const route of this.messages) {
      if (!route.matches(message.prefix) || route.format.message === undefined) continue
      handle ??= this.outsideTransaction(lsn)
      // A transactional message is an event of its transaction (transaction metadata counts it, as Debezium's).
      if (tx !== undefined && route.format.transactions !== undefined) this.enterLane(route.lane, route.format.transactions, tx, lsn)
      this.pushToLane(route.lane, handle, route.format.message(message, lsn, tx, this.now, this.lastCommitted))
    }
    if (tx === undefined && handle !== undefined) this.tracker.commit(handle, lsn)
  }

  /**
   * A message outside any transaction (non-transactional, sent when it is
   * decoded) is tracked as a transaction of its own: the checkpoint passes
   * its LSN only once its records are delivered.
   */
  private outsideTransaction(lsn: number): TransactionHandle {
    return this.tracker.beginTransaction(0, 0, lsn, this.now)
  }

  private pushRecord(plan: TablePlan, tx: OpenTransaction, record: OutRecord, op: Op | undefined): void {
    this.pushToLane(plan.streamIndex, tx.handle, record)
    if (this.batchPlans !== undefined) this.batchPlans.add(plan)
    if (op !== undefined) {
      const stat = plan.statKeys[op]
      this.stats.events.set(stat, (this.stats.events.get(stat) ?? 0) + 1)
    }
  }

  private pushToLane(lane: number, handle: TransactionHandle, record: OutRecord): void {
    const outbox = this.outboxes[lane]!
    outbox.records.push(record)
    // The outbox holds the slabs the record's bytes were written into (formats that write bytes).
    if (this.out.holdsParts) this.out.takeSlabs(outbox.slabs ??= [])
    const last = outbox.txs.length - 1
    if (last >= 0 && outbox.txs[last] === handle) outbox.counts[last]!++
    else {
      outbox.txs.push(handle)
      outbox.counts.push(1)
    }
    this.tracker.track(handle, 1)
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
