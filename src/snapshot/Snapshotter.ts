/**
 * Snapshots, beside the streaming pipeline (docs/snapshots.md):
 *
 * - Initial: when the slot is created, its exported snapshot is imported by
 *   `snapshot_parallelism` reader connections (REPEATABLE READ, SET
 *   TRANSACTION SNAPSHOT) which read the tables in key-ordered chunks and feed
 *   the stream actors' mailboxes with `op: "r"` records. Streaming starts at
 *   the slot's consistent point only once every one of them is delivered, so
 *   nothing is lost or doubled between snapshot and stream.
 * - Incremental (DBLog watermarks): a chunk is read between a low and a high
 *   watermark written as logical decoding messages; the Router shows this
 *   module every change and every watermark in stream order; at the high
 *   watermark the chunk rows the stream did not change inside the window are
 *   emitted inside the watermark's own transaction (so the checkpoint tracker
 *   covers them). Used for tables added to the config later, for
 *   `outboxx snapshot --table`, for `snapshot = "always"` and to finish an
 *   initial snapshot a crash interrupted (the exported snapshot died with it).
 * - Progress is journaled per chunk (SnapshotStarted / SnapshotChunkDone with
 *   the last key / SnapshotTableDone), once the chunk is delivered to Kafka.
 */
import { randomBytes } from "node:crypto"
import { Deferred, Duration, Effect, Fiber, Metric, Queue, type Redacted, type Scope } from "effect"
import * as Metrics from "../observability/metrics.js"
import type pg from "pg"
import type { OutboxxSettings } from "../config/model.js"
import { emptyOutbox, type Outbox } from "../deliver/Outbox.js"
import type { ChangeObserver, LogicalMessageHandler, SnapshotRowSink } from "../route/Router.js"
import { streamFormats, type TablePlan } from "../route/TablePlan.js"
import type { Relation } from "../decode/messages.js"
import { formatLsn } from "../postgres/lsn.js"
import { connectClient } from "../postgres/Postgres.js"
import { quoteLiteral } from "../postgres/quote.js"
import { TypeRegistry } from "../event/values/TypeRegistry.js"
import type { JournalEvent } from "../state/JournalEvent.js"
import type { StateStoreShape } from "../state/StateStore.js"
import { type KeysetChunk, queryText, readBlockRange, readKeysetChunk, readKeysetChunkInSnapshot } from "./chunks.js"
import { planParts, TableRun, type TablePart } from "./parts.js"
import type { Tuple } from "../decode/tuple.js"
import { JsonBytes } from "../event/record/JsonBytes.js"
import { decodeSignal, decodeWatermark, encodeWatermark, signalPrefix, type Watermark, watermarkPrefix } from "./messages.js"
import { SnapshotProgress } from "./progress.js"
import { type BatchTracer, nowNs } from "../observability/BatchTrace.js"
import type { Transaction } from "../event/EventFormat.js"
import { SnapshotError } from "./SnapshotError.js"
import { verifySignal } from "./signalKey.js"
import { reconnectBackoff } from "../pipeline/backoff.js"
import { loadTableTarget, snapshotTables, type TableTarget } from "./tableTarget.js"
import { ChunkWindow, chunkKeyText, RecentChanges } from "./window.js"

export interface SnapshotterOptions {
  readonly settings: OutboxxSettings
  /** The pipeline's catalog connection (pg queues concurrent queries on it). */
  readonly catalog: pg.Client
  readonly database: string
  readonly slot: string
  readonly journal: StateStoreShape
  /** `tail`: no snapshots at all. */
  readonly disabled: boolean
  /** Authenticates `outboxx snapshot` signals (signalKey.ts); undefined = refuse every signal. */
  readonly signalKey: Redacted.Redacted<Buffer> | undefined
  /** One trace per initial-snapshot chunk, when tracing is on. */
  readonly traces?: BatchTracer | undefined
}

/** A chunk row, ready for every stream that snapshots the table. */
interface PreparedRow {
  readonly key: string
  /** The row as read (its cells in the chunk's RowStore); each stream's format writes its event when the window closes. */
  readonly row: Tuple
  readonly plans: ReadonlyArray<TablePlan>
}

/** A table whose incremental snapshot runs: its changes are remembered by transaction (RecentChanges). */
interface WatchedTable {
  readonly target: TableTarget
  readonly recent: RecentChanges
}

interface ActiveWindow {
  readonly window: ChunkWindow<PreparedRow>
  /** Rows emitted once delivered; -1 when the window was unusable (re-read the chunk). */
  readonly resolve: (emitted: number) => void
}

interface Request {
  readonly table: string
  /** Start over (journal SnapshotStarted) rather than resume. */
  readonly fresh: boolean
  resumeAfter: Array<string> | undefined
  rowsSoFar: number
}

const now = () => new Date().toISOString()

/**
 * Records per outbox of an initial snapshot (a route batch's size): what one
 * stream actor send takes, and the unit of the memory bound.
 */
const OUTBOX_ROWS = 1024
/** Filled outboxes a reader holds before it pauses its socket. */
const READY_OUTBOXES = 2

const keyOf = (row: PreparedRow) => row.key

const prepareRow = (target: TableTarget, row: Tuple): PreparedRow => ({
  key: chunkKeyText(target.chunkKey.map((i) => row.value(i))),
  row,
  plans: target.plans
})

const asKey = (json: unknown): Array<string> | undefined =>
  Array.isArray(json) && json.length > 0 && json.every((v) => typeof v === "string") ? json as Array<string> : undefined

export const makeSnapshotter = Effect.fnUntraced(function*(options: SnapshotterOptions) {
  const traces = options.traces?.enabled === true ? options.traces : undefined
  const { settings, catalog, database, journal } = options
  const pgSettings = settings.postgres
  const chunkSize = pgSettings.snapshotChunkSize
  const parallelism = pgSettings.snapshotParallelism
  const registry = new TypeRegistry()
  const progress = new SnapshotProgress()
  const configured = new Set(snapshotTables(settings))
  // Unguessable: a forged watermark (anyone may emit logical messages) must not match a window.
  const runId = randomBytes(12).toString("hex")
  let windowCounter = 0
  const windows = new Map<string, ActiveWindow>()
  const watched = new Map<string, WatchedTable>()
  /** Tables queued or running (incremental), so a repeated request does not start a second run. */
  const scheduled = new Set<string>()
  /** When each table's last snapshot started, to ignore replayed requests older than it. */
  const startedAt = new Map<string, string>()
  for (const [table, p] of Object.entries((yield* journal.state).snapshots)) startedAt.set(table, p.startedAt)
  const requests = yield* Queue.unbounded<Request>()
  const signals = yield* Queue.unbounded<
    { readonly tables: ReadonlyArray<string>; readonly requestedAt: string; readonly lsn: number; readonly authentic: boolean }
  >()
  const idle = yield* Deferred.make<void>()
  /** Where window rows go: the stream's Router, bound by startIncremental. */
  let router: SnapshotRowSink | undefined
  /** Chunk key column indexes within the stream's Relation (it may differ from ours after ALTER TABLE). */
  const keyIndexCache = new WeakMap<Relation, ReadonlyArray<number>>()

  const append = (events: ReadonlyArray<JournalEvent>) =>
    journal.append(events).pipe(Effect.catch((e) => Effect.logWarning(`cannot journal snapshot progress: ${e.message}`)))

  const formats = streamFormats(settings, database)
  const load = (table: string) => loadTableTarget(catalog, settings, registry, formats, table)

  // --- Initial snapshot --------------------------------------------------------------------------

  /**
   * Reads every snapshot table under the exported snapshot and hands the
   * records to the actors; returns once all of them are delivered.
   */
  const runInitial = Effect.fnUntraced(function*(
    snapshotName: string,
    consistentPoint: number,
    mailboxes: ReadonlyArray<Queue.Queue<Outbox | null>>
  ): Effect.fn.Return<void, SnapshotError, Scope.Scope> {
    const tables = [...configured]
    if (options.disabled || tables.length === 0) return
    const at = now()
    yield* append(tables.map((table) => ({ _tag: "SnapshotStarted" as const, table, at })))
    for (const table of tables) startedAt.set(table, at)
    const started = Date.now()
    // Snapshot rows have no WAL position or transaction of their own: they carry the consistent
    // point, and the snapshot's start as their time (docs/snapshots.md).
    const snapshotTx: Transaction = { xid: 0, commitLsn: consistentPoint, commitTimeMs: Date.parse(at), commitTs: at }
    const pendingEvents: Array<JournalEvent> = []
    let undelivered = 0
    let readersDone = false
    let allDelivered: () => void = () => {}
    const delivered = new Promise<void>((resolve) => (allDelivered = resolve))
    const checkAllDelivered = () => {
      if (readersDone && undelivered === 0) allDelivered()
    }
    let totalRows = 0

    // Every table in parts (key ranges, block ranges) that readers take in order, so one big
    // table is read by several connections at once.
    const parts: Array<TablePart> = []
    for (const table of tables) {
      const target = yield* load(table)
      progress.start(table, target.estimatedRows)
      const run = new TableRun(table, target, (event) => pendingEvents.push(event), () => progress.finish(table))
      for (const part of yield* planParts(catalog, target, parallelism, chunkSize, run)) parts.push(part)
    }
    yield* Effect.logInfo("initial snapshot starting", {
      tables: tables.length,
      parts: parts.length,
      snapshot: snapshotName,
      consistentPoint: formatLsn(consistentPoint),
      parallelism,
      chunkSize
    })
    let nextPart = 0

    /**
     * One chunk: its rows written as events as they arrive, in outboxes of at
     * most OUTBOX_ROWS records handed to the stream actors while the COPY
     * goes on. When the actors fall behind, the reader's socket is paused
     * (the server waits), so what a reader holds is a few outboxes whatever
     * `snapshot_chunk_size` says (docs/snapshots.md, memory).
     */
    const readChunk = Effect.fnUntraced(function*(
      client: pg.Client,
      out: JsonBytes,
      part: TablePart,
      read: (onRow: (row: Tuple) => void) => Effect.Effect<KeysetChunk, SnapshotError>
    ) {
      const { target, run } = part
      const plans = target.plans
      const readStart = traces === undefined ? 0n : nowNs()
      const ts = Date.now()
      const socket = (client as unknown as { connection: { stream: { pause(): void; resume(): void } } }).connection.stream
      /** Outboxes filled and not yet offered (null: the COPY ended), with their stream. */
      const ready = yield* Queue.unbounded<readonly [number, Outbox] | null>()
      let paused = false
      const filling: Array<Outbox | undefined> = []
      for (const plan of plans) filling[plan.streamIndex] ??= emptyOutbox()
      // The chunk is done once the COPY ended and every outbox it filled is delivered.
      let handed = 0
      let deliveredOutboxes = 0
      let result: KeysetChunk | undefined
      const trace = traces?.startChunk(readStart, target.table, 0, run.topics)
      // The reader's own hold: the trace ends at the last acknowledgement after the COPY ended, not the first.
      if (trace !== undefined) trace.pending++
      const chunkDone = () => {
        if (result === undefined || deliveredOutboxes < handed) return
        run.delivered(part.index, result.rows, result.lastKey)
        undelivered--
        checkAllDelivered()
      }
      const onDelivered = () => {
        deliveredOutboxes++
        chunkDone()
      }
      const hand = (stream: number, outbox: Outbox) => {
        handed++
        outbox.delivered = [onDelivered]
        if (trace !== undefined) {
          outbox.trace = trace
          trace.pending++
        }
        Queue.offerUnsafe(ready, [stream, outbox])
        if (!paused && Queue.sizeUnsafe(ready) >= READY_OUTBOXES) {
          paused = true
          socket.pause()
        }
      }
      const onRow = (row: Tuple) => {
        for (let p = 0; p < plans.length; p++) {
          const plan = plans[p]!
          const outbox = filling[plan.streamIndex]!
          outbox.records.push(plan.format.snapshot(out, row, "initial", consistentPoint, snapshotTx, ts))
          if (out.holdsParts) out.takeSlabs(outbox.slabs ??= [])
          if (outbox.records.length >= OUTBOX_ROWS) {
            hand(plan.streamIndex, outbox)
            filling[plan.streamIndex] = emptyOutbox()
          }
        }
      }
      undelivered++
      const copy = yield* read(onRow).pipe(
        Effect.tap((chunk) =>
          Effect.sync(() => {
            for (let s = 0; s < filling.length; s++) {
              const outbox = filling[s]
              if (outbox !== undefined && outbox.records.length > 0) hand(s, outbox)
            }
          })
        ),
        Effect.ensuring(Effect.sync(() => Queue.offerUnsafe(ready, null))),
        Effect.forkChild
      )
      while (true) {
        const item = yield* Queue.take(ready)
        if (item === null) break
        yield* Queue.offer(mailboxes[item[0]]!, item[1])
        if (paused && Queue.sizeUnsafe(ready) < READY_OUTBOXES) {
          paused = false
          socket.resume()
        }
      }
      if (paused) socket.resume()
      const chunk = yield* Fiber.join(copy)
      if (trace !== undefined) {
        trace.child("outboxx.snapshot.read", readStart, nowNs(), { "outboxx.snapshot.rows": chunk.rows })
        trace.root.attribute("outboxx.snapshot.rows", chunk.rows)
        trace.root.attribute("messaging.batch.message_count", chunk.rows * run.topics.length)
        trace.delivered()
      }
      run.sent(part.index)
      progress.add(target.table, chunk.rows)
      totalRows += chunk.rows
      result = chunk
      chunkDone()
      return chunk
    })

    const readPart = Effect.fnUntraced(function*(client: pg.Client, out: JsonBytes, part: TablePart) {
      const { target } = part
      if (part.kind === "keys") {
        let after: Array<string> | undefined
        while (true) {
          const chunk = yield* readChunk(client, out, part, (onRow) => readKeysetChunk(client, target, after, chunkSize, onRow, part.range))
          if (chunk.rows < chunkSize || chunk.lastKey === undefined) break
          after = chunk.lastKey
        }
      } else {
        // No key: physical block ranges inside the fixed snapshot.
        for (let from = part.fromBlock; from < part.toBlock; from += part.step) {
          const to = Math.min(part.toBlock, from + part.step)
          yield* readChunk(client, out, part, (onRow) =>
            readBlockRange(client, target, from, to, onRow).pipe(Effect.map((rows) => ({ rows, lastKey: undefined }))))
        }
      }
      part.run.readDone(part.index)
    })

    const reader = Effect.scoped(Effect.gen(function*() {
      const client = yield* connectClient(pgSettings.url, {
        applicationName: "outboxx-snapshot",
        connectTimeoutMs: Duration.toMillis(pgSettings.connectTimeout)
      }).pipe(Effect.mapError((e) => new SnapshotError({ table: "*", reason: `cannot connect: ${e.message}`, retryable: true, cause: e })))
      yield* queryText(client, "*", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [])
      yield* queryText(client, "*", `SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotName)}`, [])
      // Each reader writes events into slabs of its own (JsonBytes is one writer's).
      const out = new JsonBytes()
      while (nextPart < parts.length) yield* readPart(client, out, parts[nextPart++]!)
      yield* queryText(client, "*", "COMMIT", [])
    }))

    const flush = Effect.suspend(() => pendingEvents.length === 0 ? Effect.void : append(pendingEvents.splice(0)))
    yield* Effect.scoped(Effect.gen(function*() {
      yield* flush.pipe(Effect.andThen(Effect.sleep(Duration.millis(200))), Effect.forever, Effect.forkScoped)
      yield* Effect.all(Array.from({ length: Math.min(parallelism, parts.length) }, () => reader), {
        concurrency: "unbounded",
        discard: true
      })
      readersDone = true
      checkAllDelivered()
      yield* Effect.promise(() => delivered)
    }))
    yield* flush
    yield* append([{ _tag: "SnapshotFinished", tables, at: now() }])
    const seconds = (Date.now() - started) / 1000
    yield* progress.publish
    yield* Effect.logInfo("initial snapshot done", {
      tables: tables.length,
      rows: totalRows,
      seconds: Math.round(seconds * 10) / 10,
      rowsPerSecond: Math.round(totalRows / Math.max(seconds, 0.001))
    })
  })

  // --- Incremental snapshots ------------------------------------------------------------------------

  const emitWatermark = (client: pg.Client, table: string, watermark: Watermark) =>
    queryText(client, table, "SELECT pg_logical_emit_message(true, $1, $2)::text", [watermarkPrefix, encodeWatermark(watermark)])

  const runIncremental = Effect.fnUntraced(function*(client: pg.Client, request: Request) {
    const { table } = request
    const target = yield* load(table)
    if (target.chunkKey.length === 0) {
      return yield* new SnapshotError({
        table,
        reason: "it has no primary key and no replica identity index: an incremental snapshot needs a unique key to match " +
          "stream changes against (add a primary key; see docs/snapshots.md)",
        retryable: false
      })
    }
    if (request.fresh && request.resumeAfter === undefined && request.rowsSoFar === 0) {
      const at = now()
      startedAt.set(table, at)
      yield* append([{ _tag: "SnapshotStarted", table, at }])
    }
    progress.start(table, target.estimatedRows, request.rowsSoFar)
    const recent = new RecentChanges()
    watched.set(table, { target, recent })
    let chunk = 0
    while (true) {
      const id = `${runId}-${++windowCounter}`
      const window = new ChunkWindow<PreparedRow>(id, keyOf, recent)
      const done = new Promise<number>((resolve) => windows.set(table, { window, resolve }))
      const after = request.resumeAfter
      yield* emitWatermark(client, table, { kind: "low", id, table, chunk })
      const result = yield* readKeysetChunkInSnapshot(client, target, after, chunkSize)
      window.setRows(result.rows.map((row) => prepareRow(target, row)), result.snapshot)
      yield* emitWatermark(client, table, { kind: "high", id, table, chunk })
      const emitted = yield* Effect.promise(() => done)
      if (emitted < 0) continue
      chunk++
      progress.add(table, result.rows.length)
      if (result.lastKey !== undefined) {
        yield* append([{ _tag: "SnapshotChunkDone", table, lowKey: after ?? null, highKey: result.lastKey, rows: emitted }])
        request.resumeAfter = result.lastKey
        request.rowsSoFar += emitted
      }
      if (result.rows.length < chunkSize) break
    }
    yield* append([{ _tag: "SnapshotTableDone", table, rows: request.rowsSoFar, at: now() }])
    progress.finish(table)
  }, (effect, _client, request) =>
    Effect.ensuring(
      effect,
      Effect.sync(() => {
        windows.delete(request.table)
        watched.delete(request.table)
      })
    ))

  const schedule = (request: Request): boolean => {
    if (scheduled.has(request.table)) return false
    scheduled.add(request.table)
    Queue.offerUnsafe(requests, request)
    return true
  }

  const finished = (table: string) => {
    scheduled.delete(table)
    if (scheduled.size === 0) Deferred.doneUnsafe(idle, Effect.void)
  }

  /** One worker: a connection per table, retrying connection trouble from the last delivered chunk. */
  const worker = Effect.gen(function*() {
    while (true) {
      const request = yield* Queue.take(requests)
      // Each attempt resumes from the last delivered chunk (runIncremental reads `request`).
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* connectClient(pgSettings.url, {
          applicationName: "outboxx-snapshot",
          connectTimeoutMs: Duration.toMillis(pgSettings.connectTimeout)
        }).pipe(Effect.mapError((e) => new SnapshotError({ table: request.table, reason: `cannot connect: ${e.message}`, retryable: true, cause: e })))
        yield* runIncremental(client, request)
      })).pipe(
        Effect.tapError((error) =>
          error.retryable ? Effect.logWarning(`incremental snapshot interrupted, retrying: ${error.message}`) : Effect.void
        ),
        Effect.retry({ schedule: reconnectBackoff, times: 8, while: (error) => error.retryable }),
        Effect.catch((error) =>
          Effect.sync(() => progress.finish(request.table, true)).pipe(
            Effect.andThen(Effect.logError(`incremental snapshot stopped: ${error.message}`))
          )
        )
      )
      finished(request.table)
    }
  })

  /** Requests from `outboxx snapshot --table` (a logical message in our own stream). */
  const dispatcher = Effect.gen(function*() {
    while (true) {
      const signal = yield* Queue.take(signals)
      if (!signal.authentic) {
        yield* Metric.update(Metrics.signalsRejectedTotal, 1)
        yield* Effect.logWarning(
          `refused a snapshot signal at ${formatLsn(signal.lsn)} for ${signal.tables.join(", ")}: it is not signed with ` +
            `this pipeline's signal key (written by a role without it: anyone may call pg_logical_emit_message)`
        )
        continue
      }
      for (const table of signal.tables) {
        if (!configured.has(table)) {
          yield* Effect.logWarning(`snapshot request for ${table} ignored: no stream with snapshot = true captures it`)
          continue
        }
        const last = startedAt.get(table)
        if (last !== undefined && last >= signal.requestedAt) {
          yield* Effect.logInfo(`snapshot request for ${table} (${signal.requestedAt}) already served by the snapshot started ${last}`)
          continue
        }
        if (schedule({ table, fresh: true, resumeAfter: undefined, rowsSoFar: 0 })) {
          yield* Effect.logInfo(`incremental snapshot of ${table} requested`, { requestedAt: signal.requestedAt })
        } else {
          yield* Effect.logInfo(`snapshot request for ${table} ignored: a snapshot of it is already running`)
        }
      }
    }
  })

  /**
   * With the stream running: schedules what the journal says is unfinished
   * (tables added to the config, an interrupted snapshot, every table with
   * `always`), then serves requests for as long as the scope lives.
   */
  const startIncremental = Effect.fnUntraced(function*(boundRouter: SnapshotRowSink, initialRan: boolean) {
    router = boundRouter
    if (options.disabled) return
    if (pgSettings.snapshot !== "never" && !initialRan) {
      const state = yield* journal.state
      for (const table of configured) {
        const known = state.snapshots[table]
        if (pgSettings.snapshot === "always") {
          schedule({ table, fresh: true, resumeAfter: undefined, rowsSoFar: 0 })
        } else if (known?.status === "done") {
          continue
        } else if (known?.status === "running" && asKey(known.lastKey) !== undefined) {
          yield* Effect.logInfo(`resuming the snapshot of ${table} after an interruption, incrementally`, { rows: known.rows })
          schedule({ table, fresh: false, resumeAfter: asKey(known.lastKey), rowsSoFar: known.rows })
        } else {
          if (known === undefined) yield* Effect.logInfo(`${table} has not been snapshotted yet: snapshotting it incrementally`)
          schedule({ table, fresh: true, resumeAfter: undefined, rowsSoFar: 0 })
        }
      }
    }
    if (scheduled.size === 0) Deferred.doneUnsafe(idle, Effect.void)
    for (let i = 0; i < parallelism; i++) yield* Effect.forkScoped(worker)
    yield* Effect.forkScoped(dispatcher)
  })

  // --- Hooks the Router calls, synchronously, in stream order -------------------------------------

  const keyIndexes = (target: TableTarget, relation: Relation): ReadonlyArray<number> => {
    let indexes = keyIndexCache.get(relation)
    if (indexes === undefined) {
      const names = target.chunkKey.map((i) => target.relation.columns[i]!.name)
      indexes = names.map((name) => relation.columns.findIndex((c) => c.name === name))
      keyIndexCache.set(relation, indexes)
    }
    return indexes
  }

  const observer: ChangeObserver = {
    change: (entry, tuple: Tuple, xid: number) => {
      if (watched.size === 0) return
      const watch = watched.get(entry.qualifiedName)
      if (watch === undefined) return
      const indexes = keyIndexes(watch.target, entry.relation)
      const key = chunkKeyText(indexes.map((i) => (i < 0 || i >= tuple.length ? undefined : tuple.value(i))))
      watch.recent.add(xid, key)
      windows.get(entry.qualifiedName)?.window.observe(key)
    },
    truncate: (entry) => {
      windows.get(entry.qualifiedName)?.window.observeTruncate()
    }
  }

  const onWatermark = (lsn: number, watermark: Watermark) => {
    const active = windows.get(watermark.table)
    if (active === undefined || active.window.id !== watermark.id) return
    if (watermark.kind === "low") return active.window.openAtLow()
    const rows = active.window.closeAtHigh()
    windows.delete(watermark.table)
    if (rows === undefined || router === undefined) return active.resolve(-1)
    router.emitSnapshotRows(lsn, rows, () => active.resolve(rows.length))
  }

  /** Handles our prefixes; every other logical message goes to `next`. */
  const messageHandler = (next: LogicalMessageHandler | undefined): LogicalMessageHandler => (message) => {
    if (message.prefix === watermarkPrefix) {
      const watermark = decodeWatermark(message.content)
      if (watermark !== undefined) onWatermark(message.lsn, watermark)
      return
    }
    if (message.prefix === signalPrefix) {
      const signal = decodeSignal(message.content)
      if (signal !== undefined && signal.slot === options.slot && !options.disabled) {
        const authentic = options.signalKey !== undefined && verifySignal(options.signalKey, signal)
        Queue.offerUnsafe(signals, { tables: signal.tables, requestedAt: signal.requestedAt, lsn: message.lsn, authentic })
      }
      return
    }
    if (next !== undefined) next(message)
  }

  yield* progress.run

  return {
    /** Whether a new slot should export its snapshot for an initial snapshot. */
    wantsInitial: !options.disabled && initialSnapshotWanted(settings),
    runInitial,
    startIncremental,
    observer,
    messageHandler,
    /** Completes once no snapshot is queued or running (for `initial_only`). */
    awaitIdle: Deferred.await(idle),
    progress
  }
})

export type Snapshotter = Effect.Success<ReturnType<typeof makeSnapshotter>>



/** A new slot exports its snapshot for an initial snapshot unless snapshots are off or no stream takes part. */
export const initialSnapshotWanted = (settings: OutboxxSettings): boolean =>
  settings.postgres.snapshot !== "never" && snapshotTables(settings).length > 0

/** The stream actors' delivery callback: runs the outboxes' `delivered` hooks. */
export const notifyDelivered = (outboxes: ReadonlyArray<Outbox>): void => {
  for (const outbox of outboxes) {
    if (outbox.delivered !== undefined) for (const f of outbox.delivered) f()
  }
}
