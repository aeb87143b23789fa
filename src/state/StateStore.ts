/**
 * StateStore: the durable, event-sourced state of the pipeline's actors.
 * Actors append events (JournalEvent.ts); the state is their fold
 * (JournalState.ts), rebuilt by replaying the journal at open.
 *
 * `append` returns only once the events are on disk (write + fdatasync), so a
 * caller may act on them (e.g. confirm an LSN to PostgreSQL) right after.
 * Appends are serialised; the journal is compacted (rewritten as the fold's
 * events, atomically) when it grows past a line or byte bound.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as fs from "node:fs/promises"
import * as Duration from "effect/Duration"
import * as os from "node:os"
import type { OutboxxSettings } from "../config/model.js"
import { Settings } from "../config/Settings.js"
import { makePostgresJournal, type PostgresJournalOptions } from "./PostgresJournal.js"
import * as path from "node:path"
import { acquireDirLock } from "./fileLock.js"
import { checkpointCommitted, type JournalEvent } from "./JournalEvent.js"
import { JOURNAL_FILE, JournalCorrupt, JournalFile } from "./JournalFile.js"
import { encodeLines } from "./journalLine.js"
import { foldEvents, type JournalState, planAppend, stateToEvents } from "./JournalState.js"
import { describeIoError, StateStoreError } from "./StateStoreError.js"

export interface StateStoreShape {
  /** Appends durably (fdatasync before returning); non-advancing checkpoints are dropped. */
  readonly append: (events: ReadonlyArray<JournalEvent>) => Effect.Effect<void, StateStoreError>
  /** The fold of every event appended so far (replayed at open). */
  readonly state: Effect.Effect<JournalState>
  /**
   * Journals `lsn` as the checkpoint when it advances the last one; true when
   * it was written. Cheap to call every status interval.
   */
  readonly commitCheckpoint: (lsn: number) => Effect.Effect<boolean, StateStoreError>
  /** Where the journal lives (a file path, a table, or "memory"), for logs and /status. */
  readonly location: string
  /**
   * Holds the state for a streaming run (the scope): a shared backend waits
   * while another instance holds it (`onBusy` once per holder), then replays
   * what that instance wrote. Immediate for the file journal.
   */
  readonly claim: (onBusy: OnClaimBusy) => Effect.Effect<StateClaim, StateStoreError, Scope.Scope>
  /** Replaces the whole journal with `events` (`outboxx state migrate`). */
  readonly replaceAll: (events: ReadonlyArray<JournalEvent>) => Effect.Effect<void, StateStoreError>
}

export interface CompactionOptions {
  /** Compact once the journal holds more lines than this. Default 10,000. */
  readonly maxLines?: number
  /** Compact once the journal is larger than this many bytes. Default 4 MiB. */
  readonly maxBytes?: number
}

/**
 * What a streaming run holds while it writes the state. A shared backend may
 * lose its hold (the connection holding the lock broke): `lost` then fails,
 * and the run must stop, since another instance may take over the state.
 */
export interface StateClaim {
  readonly lost: Effect.Effect<never, StateStoreError>
  /**
   * A lease every instance of the pipeline takes (the shared backend): while
   * this run holds it, no other instance may stream, so a walsender still
   * active on the slot belongs to one that lost it (frozen, cut off) and may
   * be terminated. False for the file journal, which only one machine sees.
   */
  readonly exclusive: boolean
}

/**
 * Told who holds the state while this instance waits (the standby's log
 * line); a command that must not wait fails here instead.
 */
export type OnClaimBusy = (holder: string) => Effect.Effect<void, StateStoreError>

/** The storage under the shared logic: how events are written and replaced. */
export interface JournalBackend {
  readonly location: string
  readonly bytes: () => number
  readonly append: (events: ReadonlyArray<JournalEvent>) => Effect.Effect<void, StateStoreError>
  /** Replace the journal; `fatal` errors mean the backend must not be used any more. */
  readonly rewrite: (
    events: ReadonlyArray<JournalEvent>
  ) => Effect.Effect<void, { readonly error: StateStoreError; readonly fatal: boolean }>
  /**
   * A shared backend: waits until this instance holds the pipeline's state,
   * then returns the journal as it stands (another instance may have written
   * it since this process started). Absent = held by this process for life.
   */
  readonly claim?: (
    onBusy: OnClaimBusy
  ) => Effect.Effect<{ readonly replayed: ReadonlyArray<JournalEvent>; readonly lost: Effect.Effect<never, StateStoreError> }, StateStoreError, Scope.Scope>
}

export const makeStore = Effect.fnUntraced(function*(
  backend: JournalBackend,
  replayed: ReadonlyArray<JournalEvent>,
  options: CompactionOptions
) {
  const maxLines = options.maxLines ?? 10_000
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024
  const lock = yield* Semaphore.make(1)
  let state = foldEvents(replayed)
  let lines = replayed.length
  // Raised after a failed compaction so it is not retried on every append.
  let compactAtLines = maxLines
  let compactAtBytes = maxBytes

  const compact = Effect.gen(function*() {
    const events = stateToEvents(state)
    const result = yield* backend.rewrite(events).pipe(
      Effect.map(() => true),
      Effect.catch(({ error, fatal }) =>
        fatal
          ? Effect.fail(error)
          : Effect.logWarning("state journal compaction failed; keeping the uncompacted journal", error.message)
            .pipe(Effect.as(false))
      )
    )
    if (result) {
      lines = events.length
      compactAtLines = maxLines
      compactAtBytes = maxBytes
      yield* Effect.logDebug("state journal compacted", { location: backend.location, lines })
    } else {
      compactAtLines = lines + maxLines
      compactAtBytes = backend.bytes() + maxBytes
    }
  })

  // Uninterruptible: an interrupted caller must not release the permit while
  // its write is still running (the next append would interleave with it) or
  // leave the in-memory fold behind what reached the disk.
  const append = (events: ReadonlyArray<JournalEvent>): Effect.Effect<void, StateStoreError> =>
    lock.withPermits(1)(Effect.uninterruptible(Effect.gen(function*() {
      const plan = planAppend(state, events)
      if (plan.write.length === 0) return
      yield* backend.append(plan.write)
      state = plan.next
      lines += plan.write.length
      if (lines > compactAtLines || backend.bytes() > compactAtBytes) yield* compact
    })))

  return {
    location: backend.location,
    state: Effect.sync(() => state),
    append: Effect.fnUntraced(function*(events: ReadonlyArray<JournalEvent>) {
      yield* append(events)
    }),
    commitCheckpoint: Effect.fnUntraced(function*(lsn: number) {
      if (state.checkpoint !== undefined && lsn <= state.checkpoint.lsn) return false
      const at = new Date(yield* Clock.currentTimeMillis).toISOString()
      const before = state.checkpoint?.lsn
      yield* append([checkpointCommitted(lsn, at)])
      return state.checkpoint?.lsn !== before
    }),
    claim: (onBusy: OnClaimBusy) =>
      backend.claim === undefined ? Effect.succeed<StateClaim>({ lost: Effect.never, exclusive: false }) : Effect.gen(function*() {
        const held = yield* backend.claim!(onBusy)
        // What the previous holder wrote is the state from here on.
        yield* lock.withPermits(1)(Effect.sync(() => {
          state = foldEvents(held.replayed)
          lines = held.replayed.length
        }))
        return { lost: held.lost, exclusive: true }
      }),
    replaceAll: (events: ReadonlyArray<JournalEvent>) =>
      lock.withPermits(1)(Effect.uninterruptible(Effect.gen(function*() {
        yield* backend.rewrite(events).pipe(Effect.mapError(({ error }) => error))
        state = foldEvents(events)
        lines = events.length
      })))
  } satisfies StateStoreShape
})

const ioError = (operation: string, file: string) => (cause: unknown) =>
  new StateStoreError({ operation, path: file, detail: describeIoError(cause), cause })

const openFileBackend = Effect.fn("StateStore.open")(function*(dir: string) {
  const root = path.resolve(dir)
  yield* Effect.tryPromise({
    try: () => fs.mkdir(root, { recursive: true }),
    catch: (cause) =>
      new StateStoreError({
        operation: "open",
        path: root,
        detail: `cannot create the state directory (${describeIoError(cause)})`,
        cause
      })
  })
  const dirLock = yield* Effect.acquireRelease(acquireDirLock(root), (l) => l.release)
  const file = path.join(root, JOURNAL_FILE)
  const opened = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => JournalFile.open(root),
      catch: (cause) =>
        cause instanceof JournalCorrupt
          ? new StateStoreError({
            operation: "replay",
            path: file,
            offset: cause.corruption.offset,
            detail: `corrupt journal (${cause.corruption.detail}); ` +
              "restore it from a backup or move it aside to start from the slot's confirmed position"
          })
          : ioError("replay", file)(cause)
    }),
    ({ journal }) => Effect.promise(() => journal.close().catch(() => undefined))
  )
  if (opened.truncatedBytes > 0) {
    yield* Effect.logWarning("state journal: cut a torn tail left by an interrupted write", {
      path: file,
      offset: opened.scan.validBytes,
      bytes: opened.truncatedBytes,
      reason: opened.scan.torn?.detail
    })
  }
  const { journal } = opened
  const backend: JournalBackend = {
    location: file,
    bytes: () => journal.size,
    append: (events) => Effect.tryPromise({ try: () => journal.append(encodeLines(events)), catch: ioError("append", file) }),
    rewrite: (events) =>
      Effect.tryPromise({
        try: () => journal.rewrite(encodeLines(events)),
        catch: (cause) => ({ error: ioError("compact", file)(cause), fatal: !journal.usable })
      })
  }
  yield* Effect.logDebug("state journal opened", { path: file, lock: dirLock.path, events: opened.scan.lines })
  return { backend, replayed: opened.scan.events }
})

export class StateStore extends Context.Service<StateStore, StateStoreShape>()("outboxx/StateStore") {
  /** The configured backend (`layerFor`), from the Settings service. */
  static readonly layer: Layer.Layer<StateStore, StateStoreError, Settings> = Layer.unwrap(
    Effect.gen(function*() {
      const settings = yield* Settings
      return StateStore.layerFor(settings)
    })
  )

  /**
   * The file journal in `dir` (created if missing), locked for this process
   * while the layer is alive.
   */
  static readonly layerFileAt = (dir: string, options: CompactionOptions = {}): Layer.Layer<StateStore, StateStoreError> =>
    Layer.effect(
      StateStore,
      Effect.gen(function*() {
        const { backend, replayed } = yield* openFileBackend(dir)
        return StateStore.of(yield* makeStore(backend, replayed, options))
      })
    )

  /**
   * The backend `state.backend` names: the file journal in `state.dir`, or
   * the table shared by the pipeline's instances (state/PostgresJournal.ts).
   */
  static readonly layerFor = (
    settings: OutboxxSettings,
    shared: {
      /** The key of the shared state; default the slot name (cluster mode: the pipeline's name). */
      readonly pipeline?: string | undefined
      /** This process as the holder others see; default "<host> pid <pid>". */
      readonly instance?: string | undefined
      /** How long a holder that stops answering keeps the state (PostgresJournalOptions.holdExpiration). */
      readonly holdExpiration?: Duration.Duration | undefined
    } = {}
  ): Layer.Layer<StateStore, StateStoreError> =>
    settings.state.backend === "postgres"
      ? StateStore.layerPostgres({
        url: settings.state.url ?? settings.postgres.url,
        schema: settings.state.schema,
        pipeline: shared.pipeline ?? settings.postgres.slot,
        instance: shared.instance ?? `${os.hostname()} pid ${process.pid}`,
        ...(shared.holdExpiration === undefined ? {} : { holdExpiration: shared.holdExpiration }),
        connectTimeoutMs: Math.max(1, Duration.toMillis(settings.postgres.connectTimeout))
      })
      : StateStore.layerFileAt(settings.state.dir)

  /** The journal in a PostgreSQL table; nothing is read or written until a run claims it. */
  static readonly layerPostgres = (
    options: PostgresJournalOptions,
    compaction: CompactionOptions = { maxLines: 1_000 }
  ): Layer.Layer<StateStore> =>
    Layer.effect(StateStore, Effect.map(makeStore(makePostgresJournal(options), [], compaction), StateStore.of))

  /** Volatile, for tests and `outboxx tail`: same fold and coalescing, no disk. */
  static readonly layerMemory: Layer.Layer<StateStore> = Layer.effect(
    StateStore,
    Effect.suspend(() => StateStore.makeMemory())
  )

  static makeMemory(options: CompactionOptions = {}): Effect.Effect<StateStoreShape> {
    let bytes = 0
    const backend: JournalBackend = {
      location: "memory",
      bytes: () => bytes,
      append: (events) => Effect.sync(() => void (bytes += encodeLines(events).length)),
      rewrite: (events) => Effect.sync(() => void (bytes = encodeLines(events).length))
    }
    return makeStore(backend, [], options)
  }
}



/** For commands that must not wait: the state is held by a running instance. */
export const refuseWhenHeld = (location: string): OnClaimBusy => (holder) =>
  Effect.fail(
    new StateStoreError({
      operation: "lock",
      path: location,
      detail: `held by ${holder}, a running outboxx; stop it first`
    })
  )
