/**
 * Delivery behind one interface. The route loop hands each batch's outboxes
 * (one per stream) to `hand` and never knows where they go: to one stream
 * actor per stream (at least once, `deliver/StreamActor.ts`), or to the one
 * transactional sender (`kafka.delivery = "exactly-once"`,
 * `deliver/ExactlyOnce.ts`), which commits Kafka transactions only at
 * PostgreSQL commit boundaries.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type { CheckpointTracker } from "../checkpoint/CheckpointTracker.js"
import type { OutboxxSettings } from "../config/model.js"
import { isCommitted, splitAtBoundary } from "./ExactlyOnce.js"
import type { Outbox } from "./Outbox.js"
import type { RecordSink, SinkError } from "./RecordSink.js"
import type { HeldBytes } from "./HeldBytes.js"
import { deliveryLanes } from "./lanes.js"
import { makeStreamActor } from "./StreamActor.js"

export interface Delivery {
  /** Per lane (deliver/lanes.ts): where its outboxes go (the initial snapshot hands its chunks to the streams' lanes). */
  readonly mailboxes: ReadonlyArray<Queue.Queue<Outbox | null>>
  /** Hands one route batch's outboxes, indexed by stream (empty ones are skipped). */
  readonly hand: (outboxes: ReadonlyArray<Outbox>) => Effect.Effect<void>
  /** Fails with the first sender's failure; never succeeds while the senders run. */
  readonly failed: Effect.Effect<never, SinkError>
  /** Asks every sender to finish what is queued, and waits for them (at most 8 s). */
  readonly drain: Effect.Effect<void>
}

interface Sender {
  readonly mailbox: Queue.Queue<Outbox | null>
  readonly run: Effect.Effect<void, SinkError>
}

const isEmpty = (outbox: Outbox) => outbox.records.length === 0 && outbox.txs.length === 0

/** Runs the senders in the scope; the first failure fails `failed`. */
const start = Effect.fnUntraced(function*(senders: ReadonlyArray<Sender>) {
  const failure = yield* Deferred.make<never, SinkError>()
  const fibers = yield* Effect.forEach(senders, (sender) =>
    sender.run.pipe(
      Effect.tapError((error) => Deferred.fail(failure, error)),
      Effect.forkScoped
    ))
  const drain = Effect.gen(function*() {
    for (const sender of senders) Queue.offerUnsafe(sender.mailbox, null)
    // A sender's failure is already reported through `failed`; a drain past 8 s is cut short:
    // what was not acknowledged is not confirmed either, so the next start sends it again.
    yield* Effect.forEach(fibers, (fiber) => Fiber.await(fiber), { discard: true }).pipe(
      Effect.timeoutOrElse({
        duration: Duration.seconds(8),
        orElse: () => Effect.logWarning("delivery did not drain within 8 s; unacknowledged changes will be sent again on the next start")
      })
    )
  })
  return { failed: Deferred.await(failure), drain }
})

/**
 * At least once: one actor per stream, each sending its stream's outboxes in
 * order. Each outbox handed over is charged to `held` (its release is the
 * caller's, in `onDelivered`).
 */
export const actorDelivery = Effect.fnUntraced(function*(
  settings: OutboxxSettings,
  sink: RecordSink,
  tracker: CheckpointTracker,
  onDelivered: (outboxes: ReadonlyArray<Outbox>, records: number) => void,
  held: HeldBytes
): Effect.fn.Return<Delivery, never, Scope.Scope> {
  const linger = { duration: settings.kafka.linger, fillBytes: settings.kafka.batchMaxBytes }
  const actors = yield* Effect.forEach(deliveryLanes(settings), (lane) =>
    makeStreamActor(lane.name, sink, tracker, onDelivered, lane.deadLetterTopic, linger))
  const { drain, failed } = yield* start(actors)
  const hand = Effect.fnUntraced(function*(outboxes: ReadonlyArray<Outbox>) {
    for (let s = 0; s < actors.length; s++) {
      const outbox = outboxes[s]!
      if (isEmpty(outbox)) continue
      held.charge(outbox)
      yield* Queue.offer(actors[s]!.mailbox, outbox)
    }
  })
  return { mailboxes: actors.map((a) => a.mailbox), hand, failed, drain }
})

/**
 * Exactly once: every stream through the one transactional sender. Each
 * route batch is split at its last PostgreSQL commit (`splitAtBoundary`): the
 * committed part may be followed by a Kafka commit, the open transaction's
 * part is flagged so none follows it; once that transaction commits, a
 * boundary is owed even if no record comes with it.
 */
export const exactlyOnceDelivery = Effect.fnUntraced(function*(
  settings: OutboxxSettings,
  sender: Sender,
  held: HeldBytes
): Effect.fn.Return<Delivery, never, Scope.Scope> {
  const { drain, failed } = yield* start([sender])
  /** The open part last handed over: once its transaction commits, a boundary must follow. */
  let owesBoundary: Outbox | undefined
  const hand = Effect.fnUntraced(function*(outboxes: ReadonlyArray<Outbox>) {
    const filled = outboxes.filter((o) => !isEmpty(o))
    if (filled.length === 0 && owesBoundary === undefined) return
    const { complete, open } = splitAtBoundary(filled)
    // The batch's trace follows its records into the parts (it counted the per-stream outboxes).
    const trace = filled.find((o) => o.trace !== undefined)?.trace
    if (trace !== undefined) trace.pending = 0
    const traced = (part: Outbox) => {
      if (trace === undefined || part.records.length === 0) return
      part.trace = trace
      trace.pending++
    }
    if (complete.txs.length > 0 || complete.records.length > 0 || owesBoundary?.txs.every(isCommitted) === true) {
      traced(complete)
      held.charge(complete)
      yield* Queue.offer(sender.mailbox, complete)
      owesBoundary = undefined
    }
    if (open.records.length > 0) {
      traced(open)
      held.charge(open)
      yield* Queue.offer(sender.mailbox, open)
      owesBoundary = open
    }
    if (trace !== undefined && trace.pending === 0) {
      trace.pending = 1
      trace.delivered()
    }
  })
  return { mailboxes: deliveryLanes(settings).map(() => sender.mailbox), hand, failed, drain }
})
