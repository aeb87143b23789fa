/**
 * Heartbeat: every `postgres.heartbeat_interval`, a non-transactional logical
 * decoding message in the captured database.
 *
 * Why: the slot's WAL is shared by every database of the cluster. When the
 * captured database is idle while others write, the walsender has nothing of
 * ours to send and the slot's restart_lsn may trail far behind (the WAL growth
 * Debezium users hit). A message written here flows through the slot; once
 * nothing is in flight, the checkpoint tracker confirms the keepalive that
 * follows it (ARCHITECTURE.md rule 1), so confirmed_flush_lsn and restart_lsn
 * move on and the server can recycle the WAL.
 *
 * The heartbeat uses its own connection, so a slow or failing heartbeat never
 * delays the catalog queries of the route loop; a failure is logged once (and
 * once on recovery) and retried on the next tick, never stopping streaming:
 * the replication connection is what detects a lost server.
 *
 * Decoding on a standby: a standby cannot write, so the heartbeat stops,
 * said once. There the slot advances with the primary's WAL that reaches
 * the standby (keepalives carry the replay position); an idle captured
 * database with busy others is the case a heartbeat on the primary would
 * cover (docs/postgresql.md).
 */
import { Duration, Effect, Schedule, Scope } from "effect"
import type pg from "pg"
import type { Redacted } from "effect"
import { isStandby } from "../postgres/catalog.js"
import { connectClient } from "../postgres/Postgres.js"

export const heartbeatPrefix = "outboxx-heartbeat"
export const heartbeatSql = `SELECT pg_logical_emit_message(false, '${heartbeatPrefix}', '')`

export const startHeartbeat = Effect.fnUntraced(function*(
  url: Redacted.Redacted<string>,
  interval: Duration.Duration,
  connectTimeout: Duration.Duration
): Effect.fn.Return<void, never, Scope.Scope> {
  if (Duration.isZero(interval)) return
  const scope = yield* Effect.scope
  let client: pg.Client | undefined
  let failing = false
  let standby = false
  const beat = Effect.gen(function*() {
    if (client === undefined) {
      client = yield* connectClient(url, {
        applicationName: "outboxx-heartbeat",
        connectTimeoutMs: Duration.toMillis(connectTimeout)
      }).pipe(Effect.provideService(Scope.Scope, scope))
      if (yield* isStandby(client)) {
        standby = true
        // Nothing more to write: the connection is not kept idle for the life of the stream.
        client.end().catch(() => undefined)
        return yield* Effect.logInfo(
          "heartbeat: the server is a standby (decoding on a standby), which cannot write; no heartbeats"
        )
      }
    }
    const c = client
    yield* Effect.tryPromise(() => c.query(heartbeatSql))
  }).pipe(
    Effect.matchEffect({
      onFailure: (error) => {
        const stale = client
        client = undefined
        if (stale) stale.end().catch(() => undefined)
        if (failing) return Effect.void
        failing = true
        return Effect.logWarning(`heartbeat failing (retrying every ${Duration.format(interval)}): ${String((error as { message?: string }).message ?? error)}`)
      },
      onSuccess: () => {
        if (!failing) return Effect.void
        failing = false
        return Effect.logInfo("heartbeat recovered")
      }
    })
  )
  yield* beat.pipe(Effect.repeat({ schedule: Schedule.spaced(interval), while: () => !standby }), Effect.forkScoped)
})
