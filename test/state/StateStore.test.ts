import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { Settings } from "../../src/config/Settings.js"
import type { OutboxxSettings } from "../../src/config/model.js"
import { checkpointCommitted, type JournalEvent } from "../../src/state/JournalEvent.js"
import { encodeLine } from "../../src/state/journalLine.js"
import { foldEvents } from "../../src/state/JournalState.js"
import { type CompactionOptions, StateStore, type StateStoreShape } from "../../src/state/StateStore.js"
import { StateStoreError } from "../../src/state/StateStoreError.js"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "outboxx-state-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
let n = 0
const freshDir = () => path.join(root, `s${++n}`)
const journalOf = (dir: string) => path.join(dir, "journal.jsonl")
const linesOf = (dir: string) => fs.readFileSync(journalOf(dir), "utf8").split("\n").filter((l) => l !== "")

const T = "2026-11-23T20:00:00.000Z"
const slot: JournalEvent = {
  _tag: "SlotIdentified",
  systemId: "7301",
  timeline: 1,
  database: "shop",
  slot: "outboxx",
  createdAt: T
}
const sample: ReadonlyArray<JournalEvent> = [
  slot,
  checkpointCommitted(0x16b3748, T),
  { _tag: "SnapshotStarted", table: "public.orders", at: T },
  { _tag: "SnapshotChunkDone", table: "public.orders", lowKey: null, highKey: [1000], rows: 1000 },
  { _tag: "RoleChanged", role: "active", instance: "host-a", at: T }
]

/** Runs `f` against the file store in `dir`; the store (and its lock) is closed afterwards. */
const withStore = <A, E>(dir: string, f: (store: StateStoreShape) => Effect.Effect<A, E>, options?: CompactionOptions) =>
  Effect.gen(function*() {
    return yield* f(yield* StateStore)
  }).pipe(Effect.provide(StateStore.layerFileAt(dir, options), { local: true }))

const openError = (dir: string) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(withStore(dir, () => Effect.void))
    assert.isTrue(Exit.isFailure(exit))
    const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
    assert.instanceOf(error, StateStoreError)
    return error as StateStoreError
  })

describe("StateStore (file)", () => {
  it.effect("replays what was appended", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* withStore(dir, (s) => s.append(sample))
      const state = yield* withStore(dir, (s) => s.state)
      assert.deepStrictEqual(state, foldEvents(sample))
      assert.strictEqual(state.checkpoint?.lsn, 0x16b3748)
      assert.strictEqual(linesOf(dir).length, sample.length)
    }))

  it.effect("cuts a torn last line and keeps working", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* withStore(dir, (s) => s.append(sample))
      const intact = fs.statSync(journalOf(dir)).size
      const torn = encodeLine(checkpointCommitted(0x2000000, T))
      fs.appendFileSync(journalOf(dir), torn.slice(0, torn.length - 10)) // no newline
      const logs: Array<{ level: string; message: unknown }> = []
      const capture = Logger.layer([Logger.make((o) => void logs.push({ level: o.logLevel, message: o.message }))])
      const state = yield* withStore(dir, (s) => s.state).pipe(Effect.provide(capture))
      assert.deepStrictEqual(state, foldEvents(sample))
      assert.strictEqual(fs.statSync(journalOf(dir)).size, intact)
      const warning = logs.find((l) => l.level === "Warn")
      assert.isDefined(warning)
      assert.include(JSON.stringify(warning?.message), "torn tail")
      assert.include(JSON.stringify(warning?.message), `"offset":${intact}`)
      // Appends continue on a clean line boundary.
      yield* withStore(dir, (s) => s.commitCheckpoint(0x3000000))
      assert.strictEqual((yield* withStore(dir, (s) => s.state)).checkpoint?.lsn, 0x3000000)
    }))

  it.effect("fails on corruption before the end, naming the file and byte offset", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* withStore(dir, (s) => s.append(sample))
      const text = fs.readFileSync(journalOf(dir), "utf8")
      const offset = text.indexOf("\n") + 1 // the second line
      fs.writeFileSync(journalOf(dir), text.replace("16B3748", "16B3749"))
      const error = yield* openError(dir)
      assert.strictEqual(error.operation, "replay")
      assert.strictEqual(error.offset, offset)
      assert.include(error.message, journalOf(dir))
      assert.include(error.message, `byte offset ${offset}`)
      assert.include(error.message, "checksum mismatch")
    }))

  it.effect("compacts past the line bound, preserving the fold", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const options = { maxLines: 20 }
      const events: Array<JournalEvent> = [slot, { _tag: "SnapshotStarted", table: "public.orders", at: T }]
      for (let i = 1; i <= 30; i++) {
        events.push({ _tag: "SnapshotChunkDone", table: "public.orders", lowKey: [i - 1], highKey: [i], rows: 10 })
        events.push(checkpointCommitted(1000 + i, T))
      }
      yield* withStore(dir, (s) => Effect.forEach(events, (e) => s.append([e]), { discard: true }), options)
      const expected = foldEvents(events)
      assert.isBelow(linesOf(dir).length, 20)
      assert.deepStrictEqual(yield* withStore(dir, (s) => s.state, options), expected)
      assert.strictEqual(expected.snapshots["public.orders"]?.rows, 300)
      assert.isFalse(fs.existsSync(path.join(dir, "journal.jsonl.compact")))
    }))

  it.effect("ignores a compaction temp file left by a crash", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      yield* withStore(dir, (s) => s.append(sample))
      fs.writeFileSync(path.join(dir, "journal.jsonl.compact"), "half a compaction")
      assert.deepStrictEqual(yield* withStore(dir, (s) => s.state), foldEvents(sample))
      assert.isFalse(fs.existsSync(path.join(dir, "journal.jsonl.compact")))
    }))

  it.effect("serialises concurrent appends into whole lines", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const tables = Array.from({ length: 50 }, (_, i) => `public.t${i}`)
      yield* withStore(dir, (s) =>
        Effect.forEach(tables, (table) => s.append([{ _tag: "SnapshotStarted", table, at: T }]), {
          concurrency: "unbounded",
          discard: true
        }))
      const state = yield* withStore(dir, (s) => s.state)
      assert.deepStrictEqual(Object.keys(state.snapshots).sort(), [...tables].sort())
      assert.strictEqual(linesOf(dir).length, 50)
    }))

  it.effect("journals a checkpoint only when it advances, coalescing a batch", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const written = yield* withStore(dir, (s) =>
        Effect.gen(function*() {
          yield* s.append([slot])
          const results = [
            yield* s.commitCheckpoint(500),
            yield* s.commitCheckpoint(500),
            yield* s.commitCheckpoint(400),
            yield* s.commitCheckpoint(600)
          ]
          yield* s.append([checkpointCommitted(700, T), checkpointCommitted(800, T), checkpointCommitted(650, T)])
          return results
        }))
      assert.deepStrictEqual(written, [true, false, false, true])
      const checkpoints = linesOf(dir).map((l) => JSON.parse(l).event).filter((e) => e._tag === "CheckpointCommitted")
      assert.deepStrictEqual(checkpoints.map((e) => e.lsn), ["0/1F4", "0/258", "0/320"])
    }))

  it.effect("refuses a state directory another live store holds", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      const error = yield* withStore(dir, () => openError(dir))
      assert.strictEqual(error.operation, "lock")
      assert.include(error.message, `outboxx is already running on this state directory (pid ${process.pid}`)
      assert.include(error.message, path.join(dir, "LOCK"))
      // Released with the first store: opening works again.
      yield* withStore(dir, (s) => s.append([slot]))
      assert.isFalse(fs.existsSync(path.join(dir, "LOCK")))
    }))

  it.effect("breaks a stale lock left by a dead process", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      fs.mkdirSync(dir, { recursive: true })
      const dead = spawnSync(process.execPath, ["-e", "0"]).pid!
      fs.writeFileSync(path.join(dir, "LOCK"), `${dead} deadbeef\n`)
      yield* withStore(dir, (s) => s.append([slot]))
      assert.strictEqual(linesOf(dir).length, 1)
    }))

  it.effect("reports an unusable directory clearly", () =>
    Effect.gen(function*() {
      // Tests may run as root, where chmod does not stop writes: a directory
      // under a regular file fails for everyone (ENOTDIR).
      const file = path.join(root, `plain-file-${++n}`)
      fs.writeFileSync(file, "")
      const error = yield* openError(path.join(file, "sub"))
      assert.strictEqual(error.operation, "open")
      assert.include(error.message, path.join(file, "sub"))
      assert.include(error.message, "cannot create the state directory")
      assert.include(error.message, "ENOTDIR")
    }))
})

describe("StateStore.layer", () => {
  it.effect("opens the journal in the configured state.dir", () =>
    Effect.gen(function*() {
      const dir = freshDir()
      // Only state.dir is read; the rest of the settings do not matter here.
      const settings = Settings.layer({ state: { dir } } as unknown as OutboxxSettings)
      yield* Effect.gen(function*() {
        const store = yield* StateStore
        yield* store.append([slot])
        assert.strictEqual(store.location, journalOf(dir))
      }).pipe(Effect.provide(StateStore.layer.pipe(Layer.provide(settings)), { local: true }))
      assert.strictEqual(linesOf(dir).length, 1)
    }))
})

describe("StateStore (memory)", () => {
  it.effect("folds and coalesces like the file store", () =>
    Effect.gen(function*() {
      const store = yield* StateStore.makeMemory({ maxLines: 3 })
      yield* store.append(sample)
      assert.isTrue(yield* store.commitCheckpoint(0x2000000))
      assert.isFalse(yield* store.commitCheckpoint(0x1000000))
      const state = yield* store.state
      assert.strictEqual(state.checkpoint?.lsn, 0x2000000)
      assert.deepStrictEqual(state.snapshots, foldEvents(sample).snapshots)
      assert.strictEqual(store.location, "memory")
    }))
})
