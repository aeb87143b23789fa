/**
 * The route loop: takes what the replication stream decoded, in batches of
 * up to 1,024 items, routes them (plain synchronous code, once per message),
 * plans each Relation message on the way, and hands each batch's outboxes to
 * delivery. Keepalives outside a transaction move the checkpoint on an idle
 * stream; with exactly-once, the transactions Kafka already has are skipped.
 */
import * as Effect from "effect/Effect"
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
}

export const runRouteLoop = Effect.fnUntraced(function*(options: RouteLoopOptions) {
  const { delivery, router, source, tracker } = options
  let skipper = options.skipper

  /** Routes `items` from `from` on; stops at a Relation message (returns its index) or the end. */
  const routeBatch = (items: ReadonlyArray<SourceItem>, from: number): number | RoutingError => {
    for (let i = from; i < items.length; i++) {
      const item = items[i]!
      if (item.kind === "keepalive") {
        if (!router.inTransaction) tracker.observeKeepalive(item.walEnd)
        continue
      }
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

  while (true) {
    const items = yield* Queue.takeBetween(source.items, 1, routeBatchSize)
    router.startBatch(Date.now())
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
    yield* delivery.hand(router.takeOutboxes())
    source.onDrained()
  }
})
