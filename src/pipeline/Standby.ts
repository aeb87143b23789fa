/**
 * Standby: a second instance with the same configuration waits while another
 * process streams from the slot, and takes over as soon as the slot is free.
 *
 * PostgreSQL allows one walsender per slot, so the slot's `active` flag is the
 * lease: no extra lock is needed for safety. Takeover speed follows how fast
 * the server notices the active instance is gone. A process killed with -9
 * has its sockets closed by the kernel (FIN), the walsender reads EOF and exits
 * at once, so a 1 s poll takes over within about a second (measured in the
 * fault suite). A host that vanishes without FIN is noticed only after
 * `wal_sender_timeout` (or TCP keepalives), which bounds takeover there.
 *
 * With a shared state (`state.backend = "postgres"`) the pipeline's state is
 * a second lease, taken first (`awaitStateClaim`): the instance that holds it
 * is the only one that may stream, so the state another instance left is
 * read only after its hold (its connection) is gone.
 *
 * Two exceptions are handled here. A walsender that this very process started
 * earlier (before a reconnect) and that the server has not reaped yet: its
 * client is us and we know that connection is dead, so it is terminated
 * instead of making us wait for wal_sender_timeout. And, when this run holds
 * the shared state's claim, any walsender on the slot: its instance lost the
 * claim (it froze or was cut off, and the server ended its state session), so
 * it must not stream any more and is terminated too.
 */
import { Duration, Effect, Metric } from "effect"
import type pg from "pg"
import { connected, HealthState } from "../observability/HealthState.js"
import { activeRole } from "../observability/metrics.js"
import { slotInfo, type SlotInfo } from "../postgres/catalog.js"
import { queryRows, type PostgresError } from "../postgres/Postgres.js"
import type { StateClaim, StateStoreShape } from "../state/StateStore.js"
import type { StateStoreError } from "../state/StateStoreError.js"
import type { Scope } from "effect"

export interface StandbyOptions {
  /** How often a standby looks at the slot again. */
  readonly pollInterval?: Duration.Duration
  /** Walsender pids this process opened before: still active = a ghost of ours. */
  readonly ownWalsenders?: ReadonlySet<number> | undefined
  /**
   * This run holds the pipeline's exclusive state claim (StateClaim.exclusive):
   * a walsender still on the slot serves an instance that lost the claim
   * (frozen, cut off from the state's database) and is terminated rather than
   * waited for until wal_sender_timeout.
   */
  readonly holdsClaim?: boolean | undefined
}

/**
 * Returns the slot's row once no other process streams from it (or
 * `undefined` when it does not exist). Waits as a standby meanwhile: role
 * "standby" in /status and `outboxx_role_active` 0, logged once on entry and
 * once on takeover.
 */
export const awaitSlotFree = Effect.fnUntraced(function*(
  catalog: pg.Client,
  slot: string,
  options: StandbyOptions = {}
): Effect.fn.Return<SlotInfo | undefined, PostgresError> {
  const poll = options.pollInterval ?? Duration.seconds(1)
  const health = yield* HealthState
  let waitingSince: number | undefined
  let waitingFor: number | null = null
  while (true) {
    const row = yield* slotInfo(catalog, slot)
    if (row === undefined || !row.active) {
      if (waitingSince !== undefined) {
        yield* Effect.logInfo(
          `slot "${slot}" is free after ${((Date.now() - waitingSince) / 1000).toFixed(1)}s as standby: taking over`
        )
      }
      return row
    }
    const ours = row.activePid !== null && options.ownWalsenders?.has(row.activePid) === true
    if (row.activePid !== null && (ours || options.holdsClaim === true)) {
      // Ours: its client (us, before a reconnect) is gone. Otherwise: its instance lost the claim we hold.
      yield* queryRows(catalog, "SELECT pg_terminate_backend($1)", [row.activePid])
      if (ours) yield* Effect.logInfo(`terminated walsender pid ${row.activePid} left over from this process's previous connection`)
      else {
        yield* Effect.logWarning(
          `terminated walsender pid ${row.activePid} on replication slot "${slot}": its instance no longer holds ` +
            `the pipeline's state`
        )
      }
      yield* Effect.sleep(Duration.millis(100))
      continue
    }
    if (waitingSince === undefined || waitingFor !== row.activePid) {
      if (waitingSince === undefined) waitingSince = Date.now()
      waitingFor = row.activePid
      yield* Effect.logWarning(
        `standby: replication slot "${slot}" is in use by another process (walsender pid ${row.activePid}); ` +
          `waiting to take over (checking every ${Duration.format(poll)})`
      )
      yield* Metric.update(activeRole, 0)
      yield* health.update((h) => ({ ...h, role: "standby", streaming: false, postgres: connected }))
    }
    yield* Effect.sleep(poll)
  }
})

/**
 * Claims the pipeline's state for this run (state/StateStore.ts `claim`),
 * waiting as a standby while another instance holds it: logged once per
 * holder, and once on takeover. Immediate for the file journal.
 */
export const awaitStateClaim = Effect.fnUntraced(function*(
  journal: StateStoreShape
): Effect.fn.Return<StateClaim, StateStoreError, Scope.Scope> {
  const health = yield* HealthState
  let waitingSince: number | undefined
  const claim = yield* journal.claim((holder) =>
    Effect.gen(function*() {
      waitingSince ??= Date.now()
      yield* Effect.logWarning(
        `standby: the pipeline's state (${journal.location}) is held by ${holder}; waiting to take over`
      )
      yield* Metric.update(activeRole, 0)
      yield* health.update((h) => ({ ...h, role: "standby", streaming: false, postgres: connected }))
    })
  )
  if (waitingSince !== undefined) {
    yield* Effect.logInfo(
      `the pipeline's state is free after ${((Date.now() - waitingSince) / 1000).toFixed(1)}s as standby: taking over`
    )
  }
  return claim
})
