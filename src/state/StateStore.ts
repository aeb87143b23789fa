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
import * as Semaphore from "effect/Semaphore"
import * as fs from "node:fs/promises"
import { Settings } from "../config/Settings.js"
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
  /** Where the journal lives (a file path, or "memory"), for logs and /status. */
  readonly location: string
}

export interface CompactionOptions {
  /** Compact once the journal holds more lines than this. Default 10,000. */
  readonly maxLines?: number
  /** Compact once the journal is larger than this many bytes. Default 4 MiB. */
  readonly maxBytes?: number
}

/** The storage under the shared logic: how lines are written and replaced. */
interface JournalBackend {
  readonly location: string
  readonly bytes: () => number
  readonly append: (data: Buffer) => Effect.Effect<void, StateStoreError>
  /** Replace the journal; `fatal` errors mean the backend must not be used any more. */
  readonly rewrite: (data: Buffer) => Effect.Effect<void, { readonly error: StateStoreError; readonly fatal: boolean }>
}

const makeStore = Effect.fnUntraced(function*(
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
    const result = yield* backend.rewrite(encodeLines(events)).pipe(
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
      yield* backend.append(encodeLines(plan.write))
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
    })
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
    append: (data) => Effect.tryPromise({ try: () => journal.append(data), catch: ioError("append", file) }),
    rewrite: (data) =>
      Effect.tryPromise({
        try: () => journal.rewrite(data),
        catch: (cause) => ({ error: ioError("compact", file)(cause), fatal: !journal.usable })
      })
  }
  yield* Effect.logDebug("state journal opened", { path: file, lock: dirLock.path, events: opened.scan.lines })
  return { backend, replayed: opened.scan.events }
})

export class StateStore extends Context.Service<StateStore, StateStoreShape>()("outboxx/StateStore") {
  /** The default: the file journal in the configured `state.dir`. */
  static readonly layerFile: Layer.Layer<StateStore, StateStoreError, Settings> = Layer.unwrap(
    Effect.gen(function*() {
      const settings = yield* Settings
      return StateStore.layerFileAt(settings.state.dir)
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
      append: (data) => Effect.sync(() => void (bytes += data.length)),
      rewrite: (data) => Effect.sync(() => void (bytes = data.length))
    }
    return makeStore(backend, [], options)
  }
}


