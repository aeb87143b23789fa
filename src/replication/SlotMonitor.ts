/**
 * The slot and the server's WAL position as PostgreSQL itself reports them,
 * polled every second on a connection of its own (application_name
 * `outboxx-monitor`), for the life of the pipeline: whether this instance
 * streams, waits as a standby, or cannot reach Kafka.
 *
 * What it feeds (HealthState): the server's WAL position, from which each
 * scrape computes `outboxx_replication_lag_bytes` against the confirmed LSN;
 * the slot's row (`outboxx_slot_retained_wal_bytes`, `wal_status`,
 * `safe_wal_size`, active), shown on /status; and the PostgreSQL side of
 * /readyz while nothing streams (a refused connection says so at once, not
 * after the first streaming attempt).
 *
 * Why a separate connection: the replication connection cannot run SQL
 * while it streams, and the catalog connection belongs to a streaming run
 * that comes and goes with reconnects. One extra idle connection, one cheap
 * query pair per second.
 */
import { Duration, Effect, Metric, Schedule } from "effect"
import type { PostgresSettings } from "../config/model.js"
import { connected, disconnected, HealthState, type SlotView } from "../observability/HealthState.js"
import { postgresErrorsTotal } from "../observability/metrics.js"
import { currentWalLsn, slotInfo } from "../postgres/catalog.js"
import { postgresErrorClass } from "../postgres/failures.js"
import { parseLsnOrUndefined } from "../postgres/lsn.js"
import { connectClient, type PostgresError } from "../postgres/Postgres.js"

/** Often enough that lag under writes is a few percent off at worst; a trivial query pair per second. */
export const slotMonitorInterval = Duration.seconds(1)

/** Polls until the scope closes; never fails (a failure is shown, counted, and retried after the interval). */
export const monitorSlot = Effect.fnUntraced(function*(postgres: PostgresSettings, slot: string) {
  const health = yield* HealthState
  const live = health.live
  let failing: string | undefined

  const poll = Effect.scoped(Effect.gen(function*() {
    const client = yield* connectClient(postgres.url, {
      applicationName: "outboxx-monitor",
      connectTimeoutMs: Duration.toMillis(postgres.connectTimeout)
    })
    while (true) {
      const wal = yield* currentWalLsn(client)
      const row = yield* slotInfo(client, slot)
      const walLsn = wal === undefined ? undefined : parseLsnOrUndefined(wal)
      if (walLsn !== undefined) live.serverWalLsn = walLsn
      const confirmed = row?.confirmedFlushLsn == null ? undefined : parseLsnOrUndefined(row.confirmedFlushLsn)
      live.slotConfirmedLsn = confirmed ?? 0
      const view: SlotView = {
        exists: row !== undefined,
        active: row?.active ?? false,
        activePid: row?.activePid ?? null,
        confirmedFlushLsn: row?.confirmedFlushLsn ?? null,
        restartLsn: row?.restartLsn ?? null,
        retainedBytes: row?.retainedBytes ?? null,
        walStatus: row?.walStatus ?? null,
        safeWalSizeBytes: row?.safeWalSize ?? null,
        checkedAt: new Date().toISOString()
      }
      yield* health.update((h) => ({ ...h, postgres: connected, slotState: view }))
      if (failing !== undefined) {
        failing = undefined
        yield* Effect.logInfo("slot monitor: PostgreSQL answers again")
      }
      yield* Effect.sleep(slotMonitorInterval)
    }
  }))

  const onFailure = (error: PostgresError) =>
    Effect.gen(function*() {
      yield* Metric.update(Metric.withAttributes(postgresErrorsTotal, { class: postgresErrorClass(error.code) }), 1)
      // While a stream runs, its replication connection is the judge of the connection;
      // the monitor failing alone (say, max_connections reached) must not flip readiness.
      if (live.streaming === undefined) yield* health.update((h) => ({ ...h, postgres: disconnected(error.message) }))
      if (failing === error.message) return
      failing = error.message
      yield* Effect.logWarning(`slot monitor: cannot read the slot's state from PostgreSQL (retrying every second): ${error.message}`)
    })

  // Every failure is counted, shown and logged by onFailure, and retried for ever: none reaches here.
  return yield* poll.pipe(
    Effect.tapError(onFailure),
    Effect.retry(Schedule.spaced(slotMonitorInterval)),
    Effect.ignore
  )
})
