/**
 * The route loop: takes what the replication stream decoded, in batches of
 * up to 1,024 items, routes them (plain synchronous code, once per message),
 * plans each Relation message on the way, and hands each batch's outboxes to
 * delivery. Keepalives outside a transaction move the checkpoint on an idle
 * stream; with exactly-once, the transactions Kafka already has are skipped.
 */
import * as Effect from "effect/Effect"
import { type BatchFacts, type BatchTracer, nowNs } from "../observability/BatchTrace.js"
import type { Outbox } from "../deliver/Outbox.js"
import type { TransactionHandle } from "../checkpoint/CheckpointTracker.js"
import type { TablePlan } from "./TablePlan.js"
import * as Queue from "effect/Queue"
import type { CheckpointTracker } from "../checkpoint/CheckpointTracker.js"
import type { Relation } from "../decode/messages.js"
import type { Delivery } from "../deliver/Delivery.js"
import type { PositionSkipper } from "../deliver/ExactlyOnce.js"
import { formatLsn } from "../postgres/lsn.js"
import type { ReplicationStream, SourceItem } from "../replication/ReplicationSource.js"
import type { RelationPlanner } from "./RelationPlanner.js"
import { type Router, RoutingError } from "./Router.js"

/** Messages routed between two hand-overs to delivery: bounds an outbox's size. */
const routeBatchSize = 1024

export interface RouteLoopOptions {
  readonly source: ReplicationStream
  readonly router: Router
  readonly tracker: CheckpointTracker
  readonly plan: RelationPlanner
  readonly delivery: Delivery
  /** Exactly-once after a restart: the transactions Kafka already committed. */
  readonly skipper?: PositionSkipper | undefined
  /** One trace per batch with records, when tracing is on (observability/BatchTrace.ts). */
  readonly traces?: BatchTracer | undefined
}

/** At most this many xids are listed on a batch's trace. */
const tracedXids = 16

/** What a batch's trace says about it, from its outboxes and the plans it used (only for traced batches). */
const batchFacts = (outboxes: ReadonlyArray<Outbox>, plans: ReadonlySet<TablePlan>): BatchFacts => {
  let records = 0
  const xids: Array<number> = []
  const seen = new Set<TransactionHandle>()
  let firstCommitLsn = 0
  let last: TransactionHandle | undefined
  for (const outbox of outboxes) {
    records += outbox.records.length
    for (const tx of outbox.txs) {
      if (seen.has(tx)) continue
      seen.add(tx)
      if (xids.length < tracedXids) xids.push(tx.xid)
      if (tx.commitLsn > 0 && (firstCommitLsn === 0 || tx.commitLsn < firstCommitLsn)) firstCommitLsn = tx.commitLsn
      // Transactions begin in commit order: the highest commit LSN is the batch's last one.
      if (last === undefined || tx.commitLsn > last.commitLsn) last = tx
    }
  }
  const tables = new Set<string>()
  const topics = new Set<string>()
  for (const plan of plans) {
    tables.add(plan.table)
    topics.add(plan.topic)
  }
  return {
    records,
    transactions: seen.size,
    xids,
    firstCommitLsn: firstCommitLsn > 0 ? formatLsn(firstCommitLsn) : undefined,
    lastTransaction: last,
    lastCommitEndText: last !== undefined && last.committed ? formatLsn(last.commitEndLsn) : undefined,
    tables: [...tables],
    topics: [...topics]
  }
}

export const runRouteLoop = Effect.fnUntraced(function*(options: RouteLoopOptions) {
  const { delivery, router, source, tracker } = options
  const traces = options.traces?.enabled === true ? options.traces : undefined
  let skipper = options.skipper

  /** Routes `items` from `from` on; stops at a Relation message (returns its index) or the end. */
  const routeBatch = (items: ReadonlyArray<SourceItem>, from: number): number | RoutingError => {
    for (let i = from; i < items.length; i++) {
      const item = items[i]!
      if (item.kind === "keepalive") {
        if (!router.inTransaction) tracker.observeKeepalive(item.walEnd)
        continue
      }
      batchBytes += item.bytes
      if (skipper !== undefined) {
        if (skipper.skip(item.message as { tag: string; finalLsn?: number })) continue
        if (!skipper.active) {
          skipped = skipper.skipped
          skipper = undefined
        }
      }
      if (item.message.tag === "Relation") return i
      try {
        router.route(item.lsn, item.message)
      } catch (error) {
        if (error instanceof RoutingError) return error
        return new RoutingError({ lsn: formatLsn(item.lsn), reason: error instanceof Error ? error.message : String(error), cause: error })
      }
    }
    return items.length
  }
  let skipped = 0
  /** Replication bytes of the messages routed in this batch (given back to the source once handed over). */
  let batchBytes = 0

  while (true) {
    const items = yield* Queue.takeBetween(source.items, 1, routeBatchSize)
    const routeStart = traces === undefined ? 0n : nowNs()
    router.startBatch(Date.now(), traces !== undefined)
    batchBytes = 0
    let from = 0
    while (from < items.length) {
      const stoppedAt = routeBatch(items, from)
      if (typeof stoppedAt !== "number") return yield* stoppedAt
      if (stoppedAt < items.length) {
        const item = items[stoppedAt]! as Extract<SourceItem, { kind: "message" }>
        router.setRelation(yield* options.plan(item.lsn, item.message as Relation))
        from = stoppedAt + 1
      } else from = stoppedAt
    }
    if (skipped > 0) {
      yield* Effect.logInfo(`exactly-once: skipped ${skipped} transactions already committed in Kafka`)
      skipped = 0
    }
    const outboxes = router.takeOutboxes()
    if (traces !== undefined) traceBatch(traces, outboxes, router.batchPlansTaken(), routeStart, source.takeDecodeMs())
    yield* delivery.hand(outboxes)
    source.onDrained(batchBytes)
  }
})

/** Starts the batch's trace (when it has records and the sampler keeps it) and marks its outboxes with it. */
const traceBatch = (
  traces: BatchTracer,
  outboxes: ReadonlyArray<Outbox>,
  plans: ReadonlySet<TablePlan>,
  routeStart: bigint,
  decodeMs: number
): void => {
  if (plans.size === 0) return
  const facts = batchFacts(outboxes, plans)
  const routeEnd = nowNs()
  const decodeStart = routeStart - BigInt(Math.round(decodeMs * 1_000_000))
  const trace = traces.startBatch(decodeStart, facts)
  if (trace === undefined) return
  // Decoding runs as each message arrives; its time, summed since the previous batch, is shown just before routing.
  trace.child("outboxx.decode", decodeStart, routeStart, { "outboxx.decode.summed": true })
  trace.child("outboxx.route", routeStart, routeEnd, { "messaging.batch.message_count": facts.records })
  // A plan is noted only when a record is pushed, so at least one outbox has records.
  for (const outbox of outboxes) {
    if (outbox.records.length === 0) continue
    outbox.trace = trace
    trace.pending++
  }
}
