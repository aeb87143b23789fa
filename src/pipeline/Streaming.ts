/**
 * The streaming pipeline, wired end to end. Each part is its own module with
 * its own state; this file only creates them in order and connects them:
 *
 *   walsender -> replication/ReplicationSource (decode)
 *             -> route/RouteLoop (route/Router + route/RelationPlanner, event formats)
 *             -> deliver/Delivery (stream actors, or the exactly-once sender) -> Kafka
 *             -> checkpoint/CheckpointTracker (acks) -> status updates to the walsender
 *   snapshot/Snapshotter: initial snapshot into the delivery mailboxes; incremental
 *     windows through the Router's narrow SnapshotRowSink port
 *   pipeline/Reporter: journal, metrics and health every 200 ms
 *
 * Startup follows ARCHITECTURE.md rule 5: the publication exists before the
 * slot streams. Shutdown follows rule 8: stop reading, drain the senders,
 * flush the sink, send the final status update, then close connections.
 */
import { Deferred, Duration, Effect, Fiber, Metric, type Redacted, type Scope } from "effect"
import type pg from "pg"
import { CheckpointTracker } from "../checkpoint/CheckpointTracker.js"
import type { OutboxxSettings } from "../config/model.js"
import { configuredTopics } from "../config/topic.js"
import type { PgoutputDecodeError } from "../decode/decoder.js"
import { actorDelivery, exactlyOnceDelivery } from "../deliver/Delivery.js"
import { HeldBytes } from "../deliver/HeldBytes.js"
import type { Outbox } from "../deliver/Outbox.js"
import { deliveryLanes, dynamicLanes, outboxLane } from "../deliver/lanes.js"
import { type OutboxInstallError, readPublishKey } from "../outbox/install.js"
import { makePublishRoute } from "../outbox/route.js"
import { withDynamicTopics } from "../deliver/dynamicTopics.js"
import { makeTransactionalSender, resumeFromKafka } from "../deliver/ExactlyOnce.js"
import type { TransactionalProducer } from "../deliver/kafka/TransactionalProducer.js"
import type { RecordSink, SinkError } from "../deliver/RecordSink.js"
import { connected, HealthState } from "../observability/HealthState.js"
import { pgoutputProtocolFor } from "../postgres/catalog.js"
import { databaseOf } from "../postgres/connection.js"
import { formatLsn } from "../postgres/lsn.js"
import { connectClient, type PostgresError, queryRows } from "../postgres/Postgres.js"
import { ensurePublication, type PublicationError } from "../postgres/publication.js"
import { quoteIdent } from "../postgres/quote.js"
import { startHeartbeat } from "../replication/Heartbeat.js"
import type { ReplicationProtocolError } from "../replication/protocol.js"
import { type ReplicationError, startReplication } from "../replication/ReplicationSource.js"
import type { SlotGuard } from "../replication/SlotGuard.js"
import { openSlot, SlotError } from "../replication/SlotStart.js"
import { makeRelationPlanner } from "../route/RelationPlanner.js"
import { runRouteLoop } from "../route/RouteLoop.js"
import { type LogicalMessageHandler, messageRoutes, Router, type RoutingError } from "../route/Router.js"
import { streamFormats } from "../route/TablePlan.js"
import type { TablePlanError } from "../route/TablePlan.js"
import type { FormatError } from "../event/EventFormat.js"
import { watchTables } from "../route/TableWatch.js"
import { makeSnapshotter, notifyDelivered } from "../snapshot/Snapshotter.js"
import type { SnapshotError } from "../snapshot/SnapshotError.js"
import { StateStore, type StateStoreShape } from "../state/StateStore.js"
import type { StateStoreError } from "../state/StateStoreError.js"
import { awaitStateClaim } from "./Standby.js"
import { startReporter } from "./Reporter.js"
import { makeBatchTracer } from "../observability/BatchTrace.js"
import { activeRole } from "../observability/metrics.js"

export { SlotError }

/** Why streaming stopped. */
export type StreamingError =
  | ReplicationError
  | PostgresError
  | PublicationError
  | SlotError
  | RoutingError
  | TablePlanError
  | FormatError
  | SinkError
  | PgoutputDecodeError
  | ReplicationProtocolError
  | SnapshotError
  | OutboxInstallError
  | StateStoreError

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

/**
 * Streams until interrupted (a clean stop) or a failure. Never confirms an
 * LSN whose changes the sink has not accepted.
 */
export const runStreaming = Effect.fnUntraced(function*(
  settings: OutboxxSettings,
  sink: RecordSink,
  options: StreamingOptions
): Effect.fn.Return<void, StreamingError, Scope.Scope> {
  const pgSettings = settings.postgres
  const database = databaseOf(pgSettings.url)
  const connectTimeoutMs = Duration.toMillis(pgSettings.connectTimeout)
  const health = yield* HealthState
  const journal = options.journal ?? (yield* StateStore.makeMemory())
  // Startup as one trace of its own (a root: nothing that runs later hangs under it).
  const { catalog, protocolVersion, slot, replication, identity, exportedSnapshot, producer, resume, claim } = yield* Effect.gen(
    function*() {
      // A shared state is the first lease: only its holder streams, and it reads what the last holder wrote.
      const claim = options.temporarySlot ? undefined : yield* awaitStateClaim(journal)
      const catalog = yield* connectClient(pgSettings.url, { applicationName: "outboxx-catalog", connectTimeoutMs })
      yield* health.update((h) => ({ ...h, postgres: connected }))
      const versionRows = yield* queryRows<{ server_version_num: string }>(catalog, "SHOW server_version_num")
      const protocolVersion = pgoutputProtocolFor(Number(versionRows[0]!.server_version_num))

      // Rule 5: the publication before the slot.
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
      yield* health.update((h) => ({ ...h, kafka: connected }))

      const { slot, replication, identity, exportedSnapshot, startLsn: slotStartLsn } = yield* openSlot(settings, catalog, {
        temporary: options.temporarySlot,
        connectTimeoutMs,
        ...(options.slotGuard !== undefined ? { guard: options.slotGuard } : {}),
        ...(options.ownWalsenders !== undefined ? { ownWalsenders: options.ownWalsenders } : {}),
        holdsClaim: claim?.exclusive === true
      })

      // Exactly-once: resume past what Kafka has committed (the stored position).
      const producer = options.exactlyOnce !== undefined && !options.temporarySlot ? yield* options.exactlyOnce(slot) : undefined
      const resume = producer === undefined
        ? { startLsn: slotStartLsn, storedLsn: 0, skipper: undefined }
        : yield* resumeFromKafka(producer, identity, slotStartLsn)
      yield* Effect.annotateCurrentSpan({
        "outboxx.slot": slot,
        "outboxx.role": "active",
        "outboxx.start_lsn": formatLsn(resume.startLsn)
      })
      return { catalog, protocolVersion, slot, replication, identity, exportedSnapshot, producer, resume, claim }
    }
  ).pipe(Effect.withSpan("outboxx.start", { root: true, attributes: { "outboxx.publication": pgSettings.publication } }))
  const startLsn = resume.startLsn

  const tracker = new CheckpointTracker(startLsn)
  const traces = yield* makeBatchTracer(slot)
  const snapshots = yield* makeSnapshotter({
    settings,
    catalog,
    database,
    slot,
    journal,
    disabled: options.temporarySlot,
    signalKey: options.signalKey,
    traces
  })
  // The WAL-message outbox: its messages are verified with the key `outboxx outbox install` made.
  const lane = outboxLane(settings)
  const publish = settings.outbox === undefined || lane === undefined
    ? undefined
    : makePublishRoute(settings.outbox, yield* readPublishKey(catalog, database), lane)
  // The streams' formats, shared by the relation planner and the Router's message events.
  const formats = streamFormats(settings, database)
  const router = new Router(deliveryLanes(settings).length, tracker, {
    messages: messageRoutes(settings, formats),
    observer: snapshots.observer,
    onLogicalMessage: snapshots.messageHandler(options.onLogicalMessage),
    // Exactly-once sends through its transactional producer, which has no dead-letter path: no limits there.
    recordLimit: producer === undefined ? sink.recordLimit : undefined,
    publish
  })
  // What delivery holds, in bytes: the source stops reading while it is over its limit.
  const held = new HeldBytes()
  const delivered = (outboxes: ReadonlyArray<Outbox>) => {
    held.release(outboxes)
    notifyDelivered(outboxes)
  }
  const lanes = producer === undefined
    ? yield* actorDelivery(settings, sink, tracker, delivered, held)
    : yield* exactlyOnceDelivery(
      settings,
      yield* makeTransactionalSender(producer, tracker, slot, identity.systemId, resume.storedLsn, delivered, (outbox) => held.release([outbox])),
      held
    )
  const delivery = withDynamicTopics(lanes, sink, dynamicLanes(settings))
  const failed = yield* Deferred.make<never, StreamingError>()
  yield* delivery.failed.pipe(Effect.catch((error) => Deferred.fail(failed, error)), Effect.forkScoped)
  // Lost the shared state's hold: stop before another instance streams too.
  if (claim !== undefined) yield* claim.lost.pipe(Effect.catch((error) => Deferred.fail(failed, error)), Effect.forkScoped)

  // The initial snapshot, delivered in full before streaming starts at the consistent point.
  if (exportedSnapshot !== undefined) {
    yield* snapshots.runInitial(exportedSnapshot, startLsn, delivery.mailboxes).pipe(
      Effect.raceFirst(Deferred.await(failed))
    )
    if (pgSettings.snapshot === "initial_only") {
      yield* Effect.logInfo("snapshot = \"initial_only\": the initial snapshot is delivered; stopping without streaming")
      return
    }
  }

  const source = yield* startReplication(replication as pg.Client, identity, {
    slot,
    publication: pgSettings.publication,
    startLsn,
    protocolVersion,
    statusInterval: pgSettings.statusInterval,
    livenessTimeout: pgSettings.livenessTimeout,
    confirmedLsn: () => tracker.confirmable(),
    measureDecode: traces.enabled,
    deliveryFull: () => held.full
  })
  held.onRoom(() => source.onDrained())
  const routeFiber = yield* runRouteLoop({
    source,
    router,
    tracker,
    plan: makeRelationPlanner(catalog, settings, database, formats),
    delivery,
    skipper: resume.skipper,
    traces
  }).pipe(
    Effect.tapError((error) => Deferred.fail(failed, error)),
    Effect.forkScoped
  )
  yield* snapshots.startIncremental(router, exportedSnapshot !== undefined)
  const reporter = yield* startReporter({
    startLsn,
    tracker,
    source,
    router,
    publish,
    statusInterval: pgSettings.statusInterval,
    onConfirmed: options.onConfirmed,
    traces
  })
  yield* watchTables(catalog, settings).pipe(Effect.withTracerEnabled(false), Effect.forkScoped)

  // Graceful stop (rule 8). Registered after the senders were forked, so it runs
  // before the scope interrupts them: they get to finish what is queued.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      source.stopReading()
      yield* Fiber.interrupt(routeFiber)
      yield* delivery.drain
      yield* reporter.journalFinal
      yield* Effect.logInfo(`stopped; confirmed ${formatLsn(tracker.confirmable())}`, { lsn: formatLsn(tracker.confirmable()) })
    })
  )

  if (!options.temporarySlot) {
    yield* Metric.update(activeRole, 1)
    yield* startHeartbeat(pgSettings.url, pgSettings.heartbeatInterval, pgSettings.connectTimeout).pipe(
      Effect.withTracerEnabled(false)
    )
  }
  if (options.onStarted) yield* options.onStarted({ slot, startLsn, protocolVersion })
  yield* Effect.logInfo(`streaming slot "${slot}" from ${formatLsn(startLsn)} (pgoutput protocol ${protocolVersion})`, {
    lsn: formatLsn(startLsn)
  })
  if (pgSettings.snapshot === "initial_only" && !options.temporarySlot) {
    // Finishing an interrupted initial snapshot needs the stream (incremental); then stop.
    return yield* Effect.raceFirst(
      Deferred.await(failed),
      snapshots.awaitIdle.pipe(Effect.andThen(Effect.logInfo("snapshot = \"initial_only\": snapshot complete; stopping")))
    )
  }
  return yield* Deferred.await(failed)
})
