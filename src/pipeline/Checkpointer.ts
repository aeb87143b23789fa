/**
 * Checkpointer: turns Kafka acknowledgements into the LSN that is safe to
 * confirm to PostgreSQL, and makes it durable in the state journal first.
 *
 * The per-message work happens on the CheckpointTracker (plain synchronous
 * class, see checkpoint/CheckpointTracker.ts) that `start` hands out; the
 * service only adds the Effect-level part, called once per status interval
 * and at shutdown: `persist` journals the confirmable LSN (when it advanced)
 * and returns it, so the status update sent to PostgreSQL never names an LSN
 * the journal does not have.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { StateStore } from "../state/StateStore.js"
import type { StateStoreError } from "../state/StateStoreError.js"
import type { JournalState } from "../state/JournalState.js"
import { CheckpointTracker } from "./checkpoint/CheckpointTracker.js"

export { CheckpointContractError, CheckpointTracker, type TransactionHandle } from "./checkpoint/CheckpointTracker.js"

export interface CheckpointerShape {
  /**
   * Begins a replication session at `startLsn` (see `resumeLsn`) with a fresh
   * tracker: transactions in flight in a previous session are resent by the
   * server, so their late acks must not count.
   */
  readonly start: (startLsn: number) => Effect.Effect<CheckpointTracker>
  /** The current session's tracker, undefined before `start`. */
  readonly tracker: Effect.Effect<CheckpointTracker | undefined>
  /**
   * Journals the confirmable LSN when it advanced, then returns it: the LSN
   * to report to PostgreSQL as flushed. undefined before `start`.
   */
  readonly persist: Effect.Effect<number | undefined, StateStoreError>
}

/**
 * Where to start streaming: the slot's confirmed_flush_lsn, or the journaled
 * checkpoint when it is ahead (we journaled, then stopped before PostgreSQL
 * got the status update; those transactions are already in Kafka). The
 * journal counts only when it belongs to this very slot.
 */
export const resumeLsn = (
  slotConfirmedFlush: number,
  journal: JournalState,
  slot: { readonly systemId: string; readonly database: string; readonly slot: string }
): number => {
  const same = journal.slot !== undefined && journal.slot.systemId === slot.systemId &&
    journal.slot.database === slot.database && journal.slot.slot === slot.slot
  const journaled = same ? journal.checkpoint?.lsn : undefined
  return journaled !== undefined && journaled > slotConfirmedFlush ? journaled : slotConfirmedFlush
}

export class Checkpointer extends Context.Service<Checkpointer, CheckpointerShape>()("outboxx/Checkpointer") {
  static readonly layer: Layer.Layer<Checkpointer, never, StateStore> = Layer.effect(
    Checkpointer,
    Effect.gen(function*() {
      const store = yield* StateStore
      let current: CheckpointTracker | undefined = undefined
      return Checkpointer.of({
        start: (startLsn) => Effect.sync(() => (current = new CheckpointTracker(startLsn))),
        tracker: Effect.sync(() => current),
        persist: Effect.gen(function*() {
          const tracker = current
          if (tracker === undefined) return undefined
          const lsn = tracker.confirmable()
          yield* store.commitCheckpoint(lsn)
          return lsn
        }).pipe(Effect.withSpan("Checkpointer.persist"))
      })
    })
  )
}
