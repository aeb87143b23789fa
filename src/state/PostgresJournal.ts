/**
 * The state journal in a PostgreSQL table (`state.backend = "postgres"`),
 * shared by every instance of a pipeline, so a standby that takes over after
 * kill -9 of the active instance resumes its snapshot and checkpoint state
 * instead of snapshotting everything again.
 *
 * Why PostgreSQL and not a compacted Kafka topic: every instance must reach
 * the database anyway; a table gives durable, ordered appends (synchronous
 * commit) and, with a session advisory lock, an exclusive holder whose hold
 * ends the moment its connection does. A topic needs a full read to find the
 * last state and has no lock: fencing a zombie writer there needs a
 * transactional producer per pipeline. The table also travels with the
 * database through a physical failover.
 *
 * The hold: one connection per streaming run takes
 * `pg_try_advisory_lock(<outboxx>, hashtext('<schema>.<pipeline>'))` and
 * does every write of the run. A writer is therefore always the holder: when
 * its connection breaks, the lock is gone with it, the run is told (`lost`)
 * and stops, and another instance may claim the state. Writes never go
 * through another connection, so a zombie cannot write after losing the hold.
 * The lock is a session lock, not a transaction: nothing holds back vacuum.
 *
 * Rows: `(pipeline, seq, event jsonb, written_at)`, the same events as the
 * file journal's lines; compaction replaces a pipeline's rows in one
 * transaction. The pipeline is the slot name: one slot, one state.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type pg from "pg"
import { isStandby } from "../postgres/catalog.js"
import { connectClient, describePgError, queryRows } from "../postgres/Postgres.js"
import { quoteIdent } from "../postgres/quote.js"
import { JournalEvent } from "./JournalEvent.js"
import type { JournalBackend, OnClaimBusy } from "./StateStore.js"
import { StateStoreError } from "./StateStoreError.js"

export interface PostgresJournalOptions {
  readonly url: Redacted.Redacted<string>
  readonly schema: string
  /** The pipeline whose state this is: the slot name. */
  readonly pipeline: string
  /** This process, as other instances see it while it holds the state ("host pid N"). */
  readonly instance: string
  readonly connectTimeoutMs: number
  /** How often a waiting instance tries the lock again. Default 1 s. */
  readonly pollInterval?: Duration.Duration
  /**
   * When set, a holder that stops answering (a frozen or cut-off process)
   * loses the state after this long: the holding session runs with
   * `idle_session_timeout` at this value, so the server ends it, and with it
   * the lock, once nothing arrives for that long; a live holder pings it every
   * third of it. Without it, a frozen holder keeps the state until its
   * connection breaks. (PostgreSQL 14+; older servers lack the setting.)
   */
  readonly holdExpiration?: Duration.Duration
}

/** The first advisory lock key: "obxx" in ASCII, so our locks are recognisable in pg_locks. */
export const stateLockClass = 0x6f627878

const decodeEvent = Schema.decodeUnknownExit(JournalEvent)
const encodeEvent = Schema.encodeSync(JournalEvent)

export const journalTable = (schema: string): string => `${quoteIdent(schema)}.journal`

/** The DDL `state.backend = "postgres"` runs when its table is missing (docs/state.md prints it). */
export const journalDdl = (schema: string): ReadonlyArray<string> => [
  `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
  `CREATE TABLE IF NOT EXISTS ${journalTable(schema)} (
    pipeline text NOT NULL,
    seq bigint NOT NULL,
    event jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline, seq)
  )`,
  `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.holder (
    pipeline text PRIMARY KEY,
    instance text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
  )`
]

export const makePostgresJournal = (options: PostgresJournalOptions): JournalBackend => {
  const table = journalTable(options.schema)
  const holderTable = `${quoteIdent(options.schema)}.holder`
  const location = `postgres ${options.schema}.journal (pipeline ${options.pipeline})`
  const poll = options.pollInterval ?? Duration.seconds(1)
  const lockKey = `${options.schema}.${options.pipeline}`
  /** The connection holding the lock during a claim; writes go through it only. */
  let session: pg.Client | undefined
  let nextSeq = 1
  let bytes = 0

  const fail = (operation: string, detail: string, cause?: unknown, retryable = true) =>
    new StateStoreError({ operation, path: location, detail, retryable, ...(cause === undefined ? {} : { cause }) })

  const run = <R extends object>(operation: string, sql: string, params: ReadonlyArray<unknown> = []) =>
    Effect.suspend(() => {
      if (session === undefined) {
        return Effect.fail(fail(operation, "this instance does not hold the pipeline's state (no streaming run holds it)"))
      }
      const client = session
      return Effect.tryPromise({
        try: () => client.query(sql, [...params]).then((r) => r.rows as Array<R>),
        catch: (cause) => fail(operation, describePgError(cause).message, cause)
      })
    })

  /** Inserts `events` from seq `from`; succeeds with their size (for the compaction bound). */
  const insert = (operation: string, events: ReadonlyArray<JournalEvent>, from: number) => {
    const rows = events.map((e) => JSON.stringify(encodeEvent(e)))
    const size = rows.reduce((sum, row) => sum + row.length + 1, 0)
    return run(
      operation,
      `INSERT INTO ${table} (pipeline, seq, event)
       SELECT $1, $2::bigint + o - 1, e FROM unnest($3::jsonb[]) WITH ORDINALITY AS x(e, o)`,
      [options.pipeline, from, rows]
    ).pipe(Effect.as(size))
  }

  /** Creates the schema and tables when missing; without the privilege, says what to run. */
  const ensureTables = (client: pg.Client) =>
    Effect.gen(function*() {
      const [found] = yield* queryRows<{ journal: string | null; holder: string | null }>(
        client,
        "SELECT to_regclass($1) AS journal, to_regclass($2) AS holder",
        [`${quoteIdent(options.schema)}.journal`, holderTable]
      )
      if (found?.journal !== null && found?.holder !== null) return
      // IF NOT EXISTS is not safe against a concurrent creator (two pipelines
      // starting at once race on pg_namespace's unique index): one creator
      // at a time, under a transaction-scoped advisory lock.
      yield* queryRows(client, "BEGIN")
      yield* Effect.gen(function*() {
        yield* queryRows(client, "SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [stateLockClass, `ddl ${options.schema}`])
        for (const ddl of journalDdl(options.schema)) yield* queryRows(client, ddl)
        yield* queryRows(client, "COMMIT")
      }).pipe(
        // The DDL's own error is the one reported; a ROLLBACK fails only on a broken connection, which
        // the caller's next query reports anyway.
        Effect.onError(() => queryRows(client, "ROLLBACK").pipe(Effect.ignore))
      )
    }).pipe(
      Effect.mapError((e) =>
        fail(
          "open",
          `cannot create the state tables (${e.message}); create them as a role that may ` +
            `(docs/state.md lists the statements) or grant this role CREATE on the database`,
          e,
          false
        )
      )
    )

  const replay = Effect.gen(function*() {
    const rows = yield* run<{ seq: string; event: unknown }>(
      "replay",
      `SELECT seq, event FROM ${table} WHERE pipeline = $1 ORDER BY seq`,
      [options.pipeline]
    )
    const events: Array<JournalEvent> = []
    bytes = 0
    for (const row of rows) {
      const exit = decodeEvent(row.event)
      if (Exit.isFailure(exit)) {
        return yield* fail(
          "replay",
          `row seq ${row.seq} holds an event this version does not know (${JSON.stringify(row.event).slice(0, 200)}); ` +
            "was it written by a newer outboxx?",
          undefined,
          false
        )
      }
      events.push(exit.value)
      bytes += JSON.stringify(row.event).length + 1
    }
    nextSeq = rows.length === 0 ? 1 : Number(rows[rows.length - 1]!.seq) + 1
    return events
  })

  const claim = (onBusy: OnClaimBusy) =>
    Effect.gen(function*() {
      const client = yield* connectClient(options.url, {
        applicationName: `outboxx-state ${options.instance}`.slice(0, 63),
        connectTimeoutMs: options.connectTimeoutMs
      }).pipe(Effect.mapError((e) => fail("connect", e.message, e)))
      const lost = yield* Deferred.make<never, StateStoreError>()
      const onGone = (why: string) => () =>
        Deferred.doneUnsafe(lost, Exit.fail(fail("hold", `the connection holding the pipeline's state ${why}; another instance may take it over`)))
      client.on("error", onGone("failed"))
      client.on("end", onGone("closed"))
      if (yield* isStandby(client).pipe(Effect.mapError((e) => fail("connect", e.message, e)))) {
        return yield* fail(
          "open",
          "the server is a standby (read-only); point state.url at the primary (decoding on a standby keeps its state there)",
          undefined,
          false
        )
      }
      // Durable on commit whatever the server's default: a checkpoint written here is acted upon.
      yield* queryRows(client, "SET synchronous_commit = on").pipe(Effect.mapError((e) => fail("connect", e.message, e)))
      yield* ensureTables(client)
      let reported: string | undefined
      while (true) {
        const [row] = yield* queryRows<{ locked: boolean }>(
          client,
          "SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked",
          [stateLockClass, lockKey]
        ).pipe(Effect.mapError((e) => fail("lock", e.message, e)))
        if (row?.locked === true) break
        const [holder] = yield* queryRows<{ instance: string; since: string }>(
          client,
          `SELECT instance, since::text AS since FROM ${holderTable} WHERE pipeline = $1`,
          [options.pipeline]
        ).pipe(Effect.mapError((e) => fail("lock", e.message, e)))
        const who = holder === undefined ? "another instance" : `${holder.instance} (since ${holder.since})`
        if (who !== reported) {
          reported = who
          yield* onBusy(who)
        }
        yield* Effect.sleep(poll)
      }
      session = client
      yield* Effect.addFinalizer(() => Effect.sync(() => void (session = undefined)))
      if (options.holdExpiration !== undefined) {
        const expiration = options.holdExpiration
        yield* run("lock", `SET idle_session_timeout = ${Math.max(1, Math.round(Duration.toMillis(expiration)))}`)
        // The ping goes through the holding session only; a failed one means the hold is gone. One
        // unanswered for half the expiration counts as failed too (a cut network answers nothing):
        // the server ends the session by the expiration, so this run stops before another takes over.
        const pingTimeout = Duration.divideUnsafe(expiration, 2)
        yield* run("hold", "SELECT 1").pipe(
          Effect.timeoutOrElse({
            duration: pingTimeout,
            orElse: () => Effect.fail(fail("hold", `no answer from the state's database within ${Duration.format(pingTimeout)}`))
          }),
          Effect.repeat(Schedule.spaced(Duration.divideUnsafe(expiration, 3))),
          Effect.catch((error) =>
            Effect.sync(() => Deferred.doneUnsafe(lost, Exit.fail(fail("hold", `the pipeline's state hold could not be renewed (${error.detail}); another instance may take it over`))))
          ),
          Effect.forkScoped
        )
      }
      yield* run(
        "lock",
        `INSERT INTO ${holderTable} (pipeline, instance, since) VALUES ($1, $2, now())
         ON CONFLICT (pipeline) DO UPDATE SET instance = EXCLUDED.instance, since = EXCLUDED.since`,
        [options.pipeline, options.instance]
      )
      const replayed = yield* replay
      return { replayed, lost: Deferred.await(lost) }
    })

  return {
    location,
    bytes: () => bytes,
    claim,
    append: (events) =>
      Effect.suspend(() => insert(`append at seq ${nextSeq}`, events, nextSeq)).pipe(
        Effect.tap((size) =>
          Effect.sync(() => {
            nextSeq += events.length
            bytes += size
          })
        )
      ),
    rewrite: (events) =>
      Effect.gen(function*() {
        yield* run("compact", "BEGIN")
        const size = yield* Effect.gen(function*() {
          yield* run("compact", `DELETE FROM ${table} WHERE pipeline = $1`, [options.pipeline])
          const size = yield* insert("compact", events, 1)
          yield* run("compact", "COMMIT")
          return size
        }).pipe(
          // The compaction's own error is the one reported. A ROLLBACK fails only on a broken
          // connection, which ends the claim by itself (the session's error/end events).
          Effect.onError(() => run("compact", "ROLLBACK").pipe(Effect.ignore))
        )
        nextSeq = events.length + 1
        bytes = size
      }).pipe(
        // The old rows stay when the transaction fails; the connection's loss ends the claim anyway.
        Effect.mapError((error) => ({ error, fatal: false }))
      )
  }
}
