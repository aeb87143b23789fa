/**
 * The streaming pipeline, wired end to end:
 *
 *   walsender -> ReplicationSource (decode) -> Router -> StreamActor per stream -> sink
 *                     ^                                                     |
 *                     +---- status updates <- CheckpointTracker <- acks ----+
 *
 * Startup follows ARCHITECTURE.md rule 5: the publication exists before the
 * slot streams. Shutdown follows rule 8: stop reading, drain the actors,
 * flush the sink, send the final status update, then close connections.
 */
import { Deferred, Duration, Effect, Fiber, Metric, Queue, type Redacted, Schedule, type Scope } from "effect"
import { HealthState } from "../observability/HealthState.js"
import * as Metrics from "../observability/metrics.js"
import type pg from "pg"
import { configuredTopics } from "../config/topic.js"
import type { OutboxxSettings } from "../config/model.js"
import { databaseOf } from "../postgres/connection.js"
import { formatLsn, parseLsn } from "../postgres/lsn.js"
import { quoteIdent } from "../postgres/quote.js"
import { pgoutputProtocolFor } from "../postgres/catalog.js"
import { connectClient, queryRows, type PostgresError } from "../postgres/Postgres.js"
import { ensurePublication, type PublicationError } from "../postgres/publication.js"
import { type ReplicationError, type SourceItem, startReplication } from "../replication/ReplicationSource.js"
import { TypeRegistry } from "../event/values/TypeRegistry.js"
import { CheckpointTracker } from "../checkpoint/CheckpointTracker.js"
import type { RecordSink, SinkError } from "../deliver/RecordSink.js"
import type { PgoutputDecodeError } from "../decode/decoder.js"
import type { Relation } from "../decode/messages.js"
import type { ReplicationProtocolError } from "../replication/protocol.js"
import { emptyOutbox, type Outbox } from "../deliver/Outbox.js"
import { type LogicalMessageHandler, Router, RoutingError } from "../route/Router.js"
import { makeStreamActor } from "../deliver/StreamActor.js"
import { makeSnapshotter, notifyDelivered } from "../snapshot/Snapshotter.js"
import type { SnapshotError } from "../snapshot/SnapshotError.js"
import { StateStore, type StateStoreShape } from "../state/StateStore.js"
import { planRelation, streamFormats, TablePlanError } from "../route/TablePlan.js"
import { activeRole } from "./Standby.js"
import { startHeartbeat } from "../replication/Heartbeat.js"
import { watchTables } from "../route/TableWatch.js"
import type { SlotGuard } from "../replication/SlotGuard.js"
import { openSlot, SlotError } from "../replication/SlotStart.js"

export { SlotError }
import { isCommitted, makeTransactionalSender, PositionSkipper, splitAtBoundary } from "../deliver/ExactlyOnce.js"
import type { TransactionalProducer } from "../deliver/kafka/TransactionalProducer.js"
import { SinkError as SinkFailure } from "../deliver/RecordSink.js"

/** Why streaming stopped. */
export type StreamingError =
  | ReplicationError
  | PostgresError
  | PublicationError
  | SlotError
  | RoutingError
  | TablePlanError
  | SinkError
  | PgoutputDecodeError
  | ReplicationProtocolError
  | SnapshotError

export interface StreamingStarted {
  readonly slot: string
  readonly startLsn: number
  readonly protocolVersion: number
}

export interface StreamingOptions {
  /** `tail`: a TEMPORARY slot that dies with the connection, so the real slot never moves. */
  readonly temporarySlot: boolean
  readonly onLogicalMessage?: LogicalMessageHandler
  /** Runs whenever the confirmed LSN advances (the journal), at most every 200 ms. */
  readonly onConfirmed?: (lsn: number) => Effect.Effect<void>
  /** The state journal: snapshot progress (in memory when absent). */
  readonly journal?: StateStoreShape
  /** Runs when streaming has started. */
  readonly onStarted?: (info: StreamingStarted) => Effect.Effect<void>
  /** Journal identity checks around slot lookup/creation (replication/SlotGuard.ts). */
  readonly slotGuard?: SlotGuard
  /**
   * Walsender pids this process opened, kept across reconnects by the
   * supervisor: one still holding the slot is a ghost of ours to terminate.
   */
  readonly ownWalsenders?: Set<number>
  /**
   * `kafka.delivery = "exactly-once"`: opens the slot's transactional producer
   * (fencing earlier instances); all streams then go through one transactional
   * sender (deliver/ExactlyOnce.ts).
   */
  /** Authenticates `outboxx snapshot` signals; absent = every signal is refused (signalKey.ts). */
  readonly signalKey?: Redacted.Redacted<Buffer>
  readonly exactlyOnce?: (slot: string) => Effect.Effect<TransactionalProducer, SinkError, Scope.Scope>
}

/** Messages routed between two hand-overs to the actors: bounds an outbox's size. */
const routeBatchSize = 1024

const primaryKeySql = `SELECT a.attname FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
  WHERE i.indrelid = $1 AND i.indisprimary
  ORDER BY array_position(i.indkey::int2[], a.attnum)`

/**
 * Streams until interrupted (a clean stop) or a failure. Never confirms an
 * LSN whose changes the sink has not accepted.
 */
export const runStreaming = Effect.fn("Pipeline.runStreaming")(function*(
  settings: OutboxxSettings,
  sink: RecordSink,
  options: StreamingOptions
): Effect.fn.Return<void, StreamingError, Scope.Scope> {
  const pgSettings = settings.postgres
  const database = databaseOf(pgSettings.url)
  const connectTimeoutMs = Duration.toMillis(pgSettings.connectTimeout)
  const catalog = yield* connectClient(pgSettings.url, { applicationName: "outboxx-catalog", connectTimeoutMs })
  const versionRows = yield* queryRows<{ server_version_num: string }>(catalog, "SHOW server_version_num")
  const protocolVersion = pgoutputProtocolFor(Number(versionRows[0]!.server_version_num))

  const publication = yield* ensurePublication(catalog, settings)
  if (options.temporarySlot && publication === "created") {
    // `tail` leaves nothing behind: a publication changes what the application may do to its tables.
    yield* Effect.addFinalizer(() =>
      queryRows(catalog, `DROP PUBLICATION IF EXISTS ${quoteIdent(pgSettings.publication)}`).pipe(
        Effect.tap(() => Effect.logInfo(`dropped publication ${quoteIdent(pgSettings.publication)} (created by tail)`)),
        Effect.catch((e) => Effect.logWarning(`could not drop the publication tail created: ${e.message}`))
      )
    )
  }
  yield* sink.prepareTopics([...configuredTopics(settings).keys()])
  // Kafka answered; from here the circuit breaker (CircuitBreakerSink) reports its state.
  yield* (yield* HealthState).update((h) => ({ ...h, kafka: { connected: true } }))

  const { slot, replication, identity, exportedSnapshot, startLsn: slotStartLsn } = yield* openSlot(settings, catalog, {
    temporary: options.temporarySlot,
    connectTimeoutMs,
    ...(options.slotGuard !== undefined ? { guard: options.slotGuard } : {}),
    ...(options.ownWalsenders !== undefined ? { ownWalsenders: options.ownWalsenders } : {})
  })
  let startLsn = slotStartLsn

  // Exactly-once: what Kafka has committed (the stored position) is skipped, on the server
  // when it is ahead of the slot (START_REPLICATION skips earlier commits) and here.
  let transactional: { producer: TransactionalProducer; storedLsn: number } | undefined
  let skipper: PositionSkipper | undefined
  if (options.exactlyOnce !== undefined && !options.temporarySlot) {
    const producer = yield* options.exactlyOnce(slot)
    const stored = yield* producer.readPosition.pipe(
      Effect.mapError((e) => new SinkFailure({ reason: e.message, retryable: e.retryable, cause: e }))
    )
    let storedLsn = 0
    if (stored !== undefined && stored.systemId !== identity.systemId) {
      yield* Effect.logWarning(
        `the stored Kafka position belongs to system ${stored.systemId}, not ${identity.systemId}; ignoring it (changes may be sent again)`
      )
    } else if (stored !== undefined) {
      storedLsn = stored.lsn
      skipper = new PositionSkipper(storedLsn)
      if (storedLsn > startLsn && storedLsn <= parseLsn(identity.xlogpos)) {
        yield* Effect.logInfo(`exactly-once: resuming after the position committed in Kafka, ${formatLsn(storedLsn)}`)
        startLsn = storedLsn
      }
    }
    transactional = { producer, storedLsn }
  }

  const health = yield* HealthState
  const tracker = new CheckpointTracker(startLsn)
  const registry = new TypeRegistry()
  const formats = streamFormats(settings, database)
  const typeQuery = (sql: string, params: ReadonlyArray<unknown>) =>
    catalog.query(sql, [...params]).then((r) => r.rows as ReadonlyArray<Record<string, unknown>>)
  const snapshots = yield* makeSnapshotter({
    settings,
    catalog,
    database,
    slot,
    journal: options.journal ?? (yield* StateStore.makeMemory()),
    disabled: options.temporarySlot,
    signalKey: options.signalKey
  })
  // Exactly-once sends through its transactional producer, which has no dead-letter path: no limits there.
  const router = new Router(
    settings.streams.length,
    tracker,
    snapshots.messageHandler(options.onLogicalMessage),
    options.exactlyOnce === undefined ? sink.recordLimit : undefined
  )
  router.observer = snapshots.observer
  const failed = yield* Deferred.make<never, StreamingError>()

  const linger = { duration: settings.kafka.linger, fillBytes: settings.kafka.batchMaxBytes }
  const sender = transactional === undefined
    ? undefined
    : yield* makeTransactionalSender(transactional.producer, tracker, identity.systemId, transactional.storedLsn, notifyDelivered)
  const actors = sender !== undefined
    ? [sender]
    : yield* Effect.forEach(settings.streams, (stream) => makeStreamActor(stream.name, sink, tracker, notifyDelivered, stream.onError === "dead_letter" ? stream.deadLetterTopic : undefined, linger))
  /** Per stream: where its outboxes go (the one transactional sender in exactly-once mode). */
  const mailboxes = settings.streams.map((_, s) => sender !== undefined ? sender.mailbox : actors[s]!.mailbox)
  yield* health.update((h) => ({ ...h, slot, postgres: { connected: true } }))
  const actorFibers = yield* Effect.forEach(actors, (actor) =>
    actor.run.pipe(
      Effect.tapError((error) => Deferred.fail(failed, error)),
      Effect.forkScoped
    ))

  // The initial snapshot, delivered in full before streaming starts at the consistent point.
  if (exportedSnapshot !== undefined) {
    yield* snapshots.runInitial(exportedSnapshot, startLsn, mailboxes).pipe(
      Effect.raceFirst(Deferred.await(failed))
    )
    if (pgSettings.snapshot === "initial_only") {
      yield* Effect.logInfo("snapshot = \"initial_only\": the initial snapshot is delivered; stopping without streaming")
      return
    }
  }

  const stream = yield* startReplication(replication as pg.Client, identity, {
    slot,
    publication: pgSettings.publication,
    startLsn,
    protocolVersion,
    statusInterval: pgSettings.statusInterval,
    livenessTimeout: pgSettings.livenessTimeout,
    confirmedLsn: () => tracker.confirmable()
  })

  const planRelationMessage = Effect.fnUntraced(function*(lsn: number, relation: Relation) {
    yield* Effect.tryPromise({
      try: () => registry.ensure(relation.columns.map((c) => c.typeOid), typeQuery),
      catch: (cause) => new RoutingError({ lsn: formatLsn(lsn), reason: `cannot resolve the column types of ${relation.schema}.${relation.name}`, cause })
    })
    const pk = yield* queryRows<{ attname: string }>(catalog, primaryKeySql, [relation.relationId])
    const entry = planRelation(relation, settings, registry, pk.map((r) => r.attname), formats)
    if (entry instanceof TablePlanError) return yield* entry
    router.setRelation(entry)
  })

  const routeBatch = (items: ReadonlyArray<SourceItem>, from: number): number | RoutingError => {
    router.now = Date.now()
    for (let i = from; i < items.length; i++) {
      const item = items[i]!
      if (item.kind === "keepalive") {
        if (!router.inTransaction) tracker.observeKeepalive(item.walEnd)
        continue
      }
      if (skipper !== undefined) {
        if (skipper.skip(item.message as { tag: string; finalLsn?: number })) continue
        if (!skipper.active) {
          skippedTransactions = skipper.skipped
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

  /**
   * Exactly-once: per route batch, the committed transactions' records (after which the
   * sender may commit) and then the open transaction's records (flagged endsInTransaction).
   */
  /** The open part last handed over: once its transaction commits, a boundary must follow. */
  let owesBoundary: Outbox | undefined
  let skippedTransactions = 0
  const flushOutboxes = Effect.fnUntraced(function*() {
    if (sender !== undefined) {
      if (skippedTransactions > 0) {
        yield* Effect.logInfo(`exactly-once: skipped ${skippedTransactions} transactions already committed in Kafka`)
        skippedTransactions = 0
      }
      const filled = router.outboxes.filter((o) => o.records.length > 0 || o.txs.length > 0)
      if (filled.length === 0 && owesBoundary === undefined) return
      for (let s = 0; s < router.outboxes.length; s++) router.outboxes[s] = emptyOutbox()
      const { complete, open } = splitAtBoundary(filled)
      // After an open part, a boundary must follow once its transaction commits, even without records.
      if (complete.txs.length > 0 || complete.records.length > 0 || owesBoundary?.txs.every(isCommitted) === true) {
        yield* Queue.offer(sender.mailbox, complete)
        owesBoundary = undefined
      }
      if (open.records.length > 0) {
        yield* Queue.offer(sender.mailbox, open)
        owesBoundary = open
      }
      return
    }
    for (let s = 0; s < actors.length; s++) {
      const outbox = router.outboxes[s]!
      if (outbox.records.length === 0 && outbox.txs.length === 0) continue
      router.outboxes[s] = emptyOutbox()
      yield* Queue.offer(actors[s]!.mailbox, outbox)
    }
  })

  const routeLoop = Effect.gen(function*() {
    while (true) {
      const items = yield* Queue.takeBetween(stream.items, 1, routeBatchSize)
      let from = 0
      while (from < items.length) {
        const stoppedAt = routeBatch(items, from)
        if (typeof stoppedAt !== "number") return yield* stoppedAt
        if (stoppedAt < items.length) {
          const item = items[stoppedAt]! as Extract<SourceItem, { kind: "message" }>
          yield* planRelationMessage(item.lsn, item.message as Relation)
          from = stoppedAt + 1
        } else from = stoppedAt
      }
      yield* flushOutboxes()
      stream.onDrained()
    }
  })
  const routeFiber = yield* routeLoop.pipe(
    Effect.tapError((error) => Deferred.fail(failed, error)),
    Effect.forkScoped
  )
  yield* snapshots.startIncremental(router, exportedSnapshot !== undefined)

  // Progress, every 200 ms: the confirmed LSN to the caller (journal), metrics and health.
  let lastReported = startLsn
  let lastAdvanceAt = Date.now()
  let lastJournaled = startLsn
  let lastJournaledAt = 0
  const statusIntervalMs = Duration.toMillis(pgSettings.statusInterval)
  const report = Effect.gen(function*() {
    const confirmed = tracker.confirmable()
    const inFlight = tracker.inFlight()
    const now = Date.now()
    if (confirmed > lastReported) {
      lastReported = confirmed
      lastAdvanceAt = now
    }
    // The journal follows the status interval: each append is an fsync.
    if (confirmed > lastJournaled && now - lastJournaledAt >= statusIntervalMs) {
      lastJournaled = confirmed
      lastJournaledAt = now
      if (options.onConfirmed) yield* options.onConfirmed(confirmed)
    }
    const lagBytes = Math.max(0, stream.receivedLsn() - confirmed)
    // Staleness: how long undelivered changes have been waiting for the confirmed LSN to move.
    const lagSeconds = inFlight === 0 ? 0 : (now - lastAdvanceAt) / 1000
    yield* Metric.update(Metrics.confirmedLsn, confirmed)
    yield* Metric.update(Metrics.inflightMessages, inFlight)
    yield* Metric.update(Metrics.replicationLagBytes, lagBytes)
    yield* Metric.update(Metrics.replicationLagSeconds, lagSeconds)
    yield* Metric.update(Metrics.walBytesTotal, stream.takeReceivedBytes())
    if (router.stats.transactions > 0) {
      yield* Metric.update(Metrics.transactionsTotal, router.stats.transactions)
      router.stats.transactions = 0
    }
    for (const [key, count] of router.stats.events) {
      const [stream, table, op] = key.split("\u0000") as [string, string, string]
      yield* Metric.update(Metric.withAttributes(Metrics.eventsTotal, { stream, table, op }), count)
    }
    router.stats.events.clear()
    yield* health.update((h) => ({
      ...h,
      role: "active",
      streaming: true,
      postgres: { connected: true },
      slot,
      confirmedLsn: formatLsn(confirmed),
      serverLsn: formatLsn(stream.receivedLsn()),
      lagBytes,
      lagSeconds
    }))
  })
  yield* report.pipe(Effect.repeat(Schedule.spaced(Duration.millis(200))), Effect.forkScoped)
  yield* watchTables(catalog, settings).pipe(Effect.forkScoped)

  // Graceful stop (rule 8). Registered after the actors were forked, so it runs
  // before the scope interrupts them: they get to finish what is queued.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      stream.stopReading()
      yield* Fiber.interrupt(routeFiber)
      for (const actor of actors) Queue.offerUnsafe(actor.mailbox, null)
      yield* Effect.forEach(actorFibers, (fiber) => Fiber.await(fiber), { discard: true }).pipe(
        Effect.timeout(Duration.seconds(8)),
        Effect.ignore
      )
      const confirmed = tracker.confirmable()
      if (confirmed > lastJournaled && options.onConfirmed) yield* options.onConfirmed(confirmed)
      yield* Effect.logInfo(`stopped; confirmed ${formatLsn(confirmed)}`)
    })
  )

  if (!options.temporarySlot) {
    yield* Metric.update(activeRole, 1)
    yield* startHeartbeat(pgSettings.url, pgSettings.heartbeatInterval, pgSettings.connectTimeout)
  }
  if (options.onStarted) yield* options.onStarted({ slot, startLsn, protocolVersion })
  yield* Effect.logInfo(`streaming slot "${slot}" from ${formatLsn(startLsn)} (pgoutput protocol ${protocolVersion})`)
  if (pgSettings.snapshot === "initial_only" && !options.temporarySlot) {
    // Finishing an interrupted initial snapshot needs the stream (incremental); then stop.
    return yield* Effect.raceFirst(
      Deferred.await(failed),
      snapshots.awaitIdle.pipe(Effect.andThen(Effect.logInfo("snapshot = \"initial_only\": snapshot complete; stopping")))
    )
  }
  return yield* Deferred.await(failed)
})
