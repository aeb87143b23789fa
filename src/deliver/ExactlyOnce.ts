/**
 * `kafka.delivery = "exactly-once"`: every stream's records go through ONE
 * sender, in Kafka transactions that each hold complete PostgreSQL
 * transactions (one or more) plus the slot's position record (the commit end
 * LSN of the last of them, see kafka/TransactionalProducer.ts).
 *
 * - The routing loop hands over one merged outbox per route batch, flagged
 *   `endsInTransaction` while a PostgreSQL transaction is still open; the
 *   sender commits only at a boundary, so a big PostgreSQL transaction spans
 *   several hand-overs but one Kafka transaction (bounded by
 *   `transactionTimeoutMs`).
 * - The tracker acks the records only after the Kafka commit, so the slot's
 *   confirmed LSN never passes uncommitted data.
 * - Any failure aborts the Kafka transaction and fails streaming (retryable):
 *   the supervisor starts again, reads the stored position and skips every
 *   PostgreSQL transaction at or before it (`positionSkipper`). Nothing is
 *   kept in memory for a retry, whatever the size of the transaction.
 */
import { Effect, Queue } from "effect"
import type { TransactionalProducer } from "./kafka/TransactionalProducer.js"
import type { CheckpointTracker, TransactionHandle } from "../checkpoint/CheckpointTracker.js"
import { emptyOutbox, type Outbox } from "./Outbox.js"
import { releaseSlabs, type Slab } from "../event/record/SlabPool.js"
import { recycleRecords } from "../event/record/SlabRecord.js"
import { SinkError } from "./RecordSink.js"
import { inTraceOf } from "../observability/BatchTrace.js"
import { HealthState } from "../observability/HealthState.js"
import { formatLsn, parseLsn, parseLsnOrUndefined } from "../postgres/lsn.js"

/** What the slot's position record says: everything up to this commit end LSN is in Kafka. */
export interface StoredPosition {
  readonly lsn: number
  readonly systemId: string
}

/** The position record's value (JSON; `slot` and `at` are for people reading the topic). */
export const encodePosition = (slot: string, position: StoredPosition): string =>
  JSON.stringify({ lsn: formatLsn(position.lsn), systemId: position.systemId, slot, at: new Date().toISOString() })

/** Parses a position record's value; undefined when it is not one of ours. */
export const decodePosition = (value: string): StoredPosition | undefined => {
  let parsed: { lsn?: unknown; systemId?: unknown }
  try {
    parsed = JSON.parse(value)
  } catch {
    return undefined
  }
  if (typeof parsed.lsn !== "string" || typeof parsed.systemId !== "string") return undefined
  const lsn = parseLsnOrUndefined(parsed.lsn)
  return lsn === undefined ? undefined : { lsn, systemId: parsed.systemId }
}

/** Outboxes the sender may hold queued (each at most one route batch of 1,024 messages). */
export const transactionalMailboxCapacity = 16
/** Outboxes taken per turn; one commit covers all of them when they end at a boundary. */
const outboxesPerTurn = 16
/** A boundary with at least this many records pending commits even when more outboxes are queued. */
const commitEveryRecords = 20_000

/** The commit end LSN the tracker recorded for a committed transaction. */
const commitEndOf = (tx: TransactionHandle): number => tx.commitEndLsn
export const isCommitted = (tx: TransactionHandle): boolean => tx.committed

/**
 * Splits one route batch's outboxes at the last PostgreSQL commit: `complete`
 * holds every committed transaction's records (a Kafka commit may follow it),
 * `open` the records of the transaction still open (per stream, only the
 * last entry can be), flagged `endsInTransaction`. Without the split, a busy
 * stream whose route batches rarely end exactly at a Commit would never reach
 * a boundary and one Kafka transaction would grow without end.
 */
export const splitAtBoundary = (outboxes: ReadonlyArray<Outbox>): { readonly complete: Outbox; readonly open: Outbox } => {
  const complete = emptyOutbox()
  const open = emptyOutbox()
  open.endsInTransaction = true
  for (const o of outboxes) {
    let start = 0
    for (let i = 0; i < o.txs.length; i++) {
      const tx = o.txs[i]!
      const target = isCommitted(tx) ? complete : open
      const end = start + o.counts[i]!
      for (let r = start; r < end; r++) target.records.push(o.records[r]!)
      target.txs.push(tx)
      target.counts.push(o.counts[i]!)
      start = end
    }
    // Records outside transactions (none today) stay with the complete part.
    for (let r = start; r < o.records.length; r++) complete.records.push(o.records[r]!)
    if (o.delivered !== undefined) (complete.delivered ??= []).push(...o.delivered)
  }
  // The slabs the records live in go with the part sent last (open, when it has
  // records): released once it is sent, both parts are in Kafka.
  let slabs: Array<Slab> | undefined
  for (const o of outboxes) if (o.slabs !== undefined) (slabs ??= []).push(...o.slabs)
  if (slabs !== undefined) (open.records.length > 0 ? open : complete).slabs = slabs
  return { complete, open }
}

export const makeTransactionalSender = Effect.fnUntraced(function*(
  producer: TransactionalProducer,
  tracker: CheckpointTracker,
  slot: string,
  systemId: string,
  /** The position stored at start (0 when none): a commit without transactions keeps it. */
  storedLsn: number,
  onDelivered: (outboxes: ReadonlyArray<Outbox>, records: number) => void = () => {},
  /** An outbox's records are in Kafka (in the open Kafka transaction); only its positions wait for the commit. */
  onSent: (outbox: Outbox) => void = () => {}
) {
  const mailbox = yield* Queue.bounded<Outbox | null>(transactionalMailboxCapacity)
  let position = storedLsn
  // One sender for every stream: /status shows its delivery as the stream "exactly-once".
  const stats = (yield* HealthState).live.stream("exactly-once")

  const asSinkError = (error: { readonly message: string; readonly retryable: boolean }) =>
    new SinkError({ reason: `exactly-once: ${error.message}`, retryable: error.retryable, cause: error })

  const run = Effect.gen(function*() {
    /** Outboxes sent in the open Kafka transaction, acked when it commits. */
    let pending: Array<Outbox> = []
    let pendingRecords = 0
    let open = false
    const commit = Effect.gen(function*() {
      for (const outbox of pending) {
        for (const tx of outbox.txs) if (isCommitted(tx)) position = Math.max(position, commitEndOf(tx))
      }
      yield* inTraceOf(
        pending,
        producer.commit(encodePosition(slot, { lsn: position, systemId })).pipe(
          Effect.withSpan("TransactionalProducer.commit", {
            kind: "producer",
            attributes: { "messaging.system": "kafka", "outboxx.position_lsn": formatLsn(position), "outboxx.outboxes": pending.length }
          })
        )
      )
      for (const outbox of pending) {
        for (let i = 0; i < outbox.txs.length; i++) tracker.ack(outbox.txs[i]!, outbox.counts[i]!)
        if (outbox.trace !== undefined) outbox.trace.delivered()
      }
      stats.delivered += pendingRecords
      stats.lastDeliveredAt = Date.now()
      stats.state = "idle"
      onDelivered(pending, pendingRecords)
      pending = []
      pendingRecords = 0
      open = false
    })
    while (true) {
      const taken = yield* Queue.takeBetween(mailbox, 1, outboxesPerTurn)
      let done = false
      for (let k = 0; k < taken.length; k++) {
        const item = taken[k]!
        if (item === null) {
          done = true
          break
        }
        yield* inTraceOf(
          [item],
          producer.send(item.records).pipe(
            Effect.withSpan("TransactionalProducer.send", {
              kind: "producer",
              attributes: {
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.batch.message_count": item.records.length
              }
            })
          )
        )
        open = true
        pending.push(item)
        pendingRecords += item.records.length
        // The records' memory can go now: a PostgreSQL transaction of 1,000,000 rows
        // would otherwise stay in memory whole until its commit. Both backends
        // encode the records into their own request buffers, so the slabs can be
        // written again at once (as the stream actors do): without that, every
        // batch took fresh slabs and the collector ran twice as much.
        onSent(item)
        releaseSlabs(item.slabs)
        delete item.slabs
        recycleRecords(item.records)
        item.records = []
        // Commit at a boundary: at the end of the turn (group commit), or early when much is pending.
        const last = k === taken.length - 1 || taken[k + 1] === null
        if (item.endsInTransaction !== true && (last || pendingRecords >= commitEveryRecords)) yield* commit
      }
      if (done) {
        // Stopping inside a PostgreSQL transaction: its part goes away; the next start resends it whole.
        if (open) yield* producer.abort
        return
      }
    }
  }).pipe(
    Effect.tapError((error) =>
      Effect.sync(() => {
        stats.state = "failed"
        stats.lastError = error.message
      })
    ),
    Effect.tapError(() => producer.abort),
    Effect.mapError(asSinkError),
    Effect.annotateLogs({ sender: "exactly-once" })
  )

  return { name: "exactly-once", mailbox, run }
})

/**
 * Drops the PostgreSQL transactions Kafka already has after a restart: those
 * whose commit LSN (Begin's `finalLsn`, the start of the commit record) is
 * below the stored commit END LSN. A later transaction's commit record starts
 * at or after an earlier one's end, so `finalLsn < stored` is exactly "this
 * transaction or an earlier one". Once a transaction passes, all later ones
 * do too (commit order), and the skipper switches itself off.
 */
export class PositionSkipper {
  private skipping = false
  skipped = 0
  constructor(private below: number) {}

  get active(): boolean {
    return this.below > 0
  }

  /** True when the message belongs to a transaction to drop. */
  skip(message: { readonly tag: string; readonly finalLsn?: number }): boolean {
    if (message.tag === "Begin") {
      if (message.finalLsn! < this.below) {
        this.skipping = true
        this.skipped++
        return true
      }
      this.below = 0
      return false
    }
    if (this.skipping) {
      if (message.tag === "Commit") this.skipping = false
      // Relation messages are still planned by the caller (the relation cache must stay right).
      return message.tag !== "Relation"
    }
    return false
  }
}

/** Where exactly-once streaming resumes: from the slot, or past what Kafka already committed. */
export interface Resume {
  readonly startLsn: number
  /** The position stored in Kafka (0 when none or not ours). */
  readonly storedLsn: number
  /** Drops the transactions Kafka has that the server sends again; undefined when none can be. */
  readonly skipper: PositionSkipper | undefined
}

/**
 * Reads the position Kafka committed last and decides where to resume: when
 * it is ahead of the slot (and not past what the server has), streaming
 * starts there (START_REPLICATION skips earlier commits); either way the
 * transactions at or below it are skipped here. A position from another
 * PostgreSQL system is ignored, loudly.
 */
export const resumeFromKafka = Effect.fnUntraced(function*(
  producer: TransactionalProducer,
  identity: { readonly systemId: string; readonly xlogpos: string },
  slotStartLsn: number
): Effect.fn.Return<Resume, SinkError> {
  const stored = yield* producer.readPosition(decodePosition).pipe(
    Effect.mapError((e) => new SinkError({ reason: e.message, retryable: e.retryable, cause: e }))
  )
  if (stored === undefined) return { startLsn: slotStartLsn, storedLsn: 0, skipper: undefined }
  if (stored.systemId !== identity.systemId) {
    yield* Effect.logWarning(
      `the stored Kafka position belongs to system ${stored.systemId}, not ${identity.systemId}; ignoring it (changes may be sent again)`
    )
    return { startLsn: slotStartLsn, storedLsn: 0, skipper: undefined }
  }
  let startLsn = slotStartLsn
  if (stored.lsn > slotStartLsn && stored.lsn <= parseLsn(identity.xlogpos)) {
    yield* Effect.logInfo(`exactly-once: resuming after the position committed in Kafka, ${formatLsn(stored.lsn)}`)
    startLsn = stored.lsn
  }
  return { startLsn, storedLsn: stored.lsn, skipper: new PositionSkipper(stored.lsn) }
})
