/**
 * An exclusive lock on the state directory: `<dir>/LOCK` holding
 * "<pid> <token>\n", so two outboxx processes never share one journal.
 *
 * The lock file is written in full under a temporary name and then hard-linked
 * to LOCK: link(2) fails with EEXIST atomically, like O_CREAT|O_EXCL, but a
 * reader never sees a LOCK without its pid (with O_EXCL there is a window
 * between create and write, and a crash inside it leaves an empty lock no one
 * can judge). A LOCK whose pid is not alive is stale (the owner crashed) and
 * is broken by renaming it aside, which only one contender can win.
 */
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { describeIoError, StateStoreError } from "./StateStoreError.js"

export interface DirLock {
  readonly path: string
  readonly release: Effect.Effect<void>
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: the process exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const parsePid = (content: string): number | undefined => {
  const pid = Number(content.split(/\s/, 1)[0])
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
}

const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code

const readOrUndefined = async (file: string): Promise<string | undefined> => {
  try {
    return await fs.readFile(file, "utf8")
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return undefined
    throw e
  }
}

type Attempt =
  | { readonly _tag: "Acquired" }
  | { readonly _tag: "Retry" }
  | { readonly _tag: "HeldBy"; readonly pid: number }

const attempt = async (lockPath: string, content: string): Promise<Attempt> => {
  const staged = `${lockPath}.${process.pid}.${randomBytes(4).toString("hex")}`
  await fs.writeFile(staged, content, { flag: "wx" })
  try {
    await fs.link(staged, lockPath)
    return { _tag: "Acquired" }
  } catch (e) {
    if (errnoOf(e) !== "EEXIST") throw e
  } finally {
    await fs.rm(staged, { force: true })
  }
  const existing = await readOrUndefined(lockPath)
  if (existing === undefined) return { _tag: "Retry" } // released meanwhile
  const pid = parsePid(existing)
  if (pid !== undefined && isAlive(pid)) return { _tag: "HeldBy", pid }
  // Stale: move it aside. If another contender broke it first, rename fails
  // with ENOENT, or we moved their fresh lock: put that one back.
  const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString("hex")}`
  try {
    await fs.rename(lockPath, aside)
  } catch (e) {
    if (errnoOf(e) === "ENOENT") return { _tag: "Retry" }
    throw e
  }
  const moved = await readOrUndefined(aside)
  const movedPid = moved === undefined ? undefined : parsePid(moved)
  if (moved !== existing && movedPid !== undefined && isAlive(movedPid)) {
    await fs.link(aside, lockPath).catch(() => undefined)
    await fs.rm(aside, { force: true })
    return { _tag: "HeldBy", pid: movedPid }
  }
  await fs.rm(aside, { force: true })
  return { _tag: "Retry" }
}

/** Takes the lock or fails with a StateStoreError naming the holder. */
export const acquireDirLock = Effect.fn("StateStore.acquireLock")(function*(dir: string) {
  const lockPath = path.join(dir, "LOCK")
  const content = `${process.pid} ${randomBytes(8).toString("hex")}\n`
  for (let i = 0; i < 5; i++) {
    const result = yield* Effect.tryPromise({
      try: () => attempt(lockPath, content),
      catch: (cause) =>
        new StateStoreError({ operation: "lock", path: lockPath, detail: describeIoError(cause), cause })
    })
    if (result._tag === "Acquired") {
      const release: Effect.Effect<void> = Effect.promise(async () => {
        // Only remove our own lock (never one taken after ours was broken).
        if ((await readOrUndefined(lockPath).catch(() => undefined)) === content) {
          await fs.rm(lockPath, { force: true }).catch(() => undefined)
        }
      })
      return { path: lockPath, release } satisfies DirLock
    }
    if (result._tag === "HeldBy") {
      return yield* new StateStoreError({
        operation: "lock",
        path: lockPath,
        detail: `outboxx is already running on this state directory (pid ${result.pid}` +
          (result.pid === process.pid ? ", this process" : "") +
          `, lock in ${dir}); stop that process, or delete ${lockPath} if it is not an outboxx process`
      })
    }
  }
  return yield* new StateStoreError({
    operation: "lock",
    path: lockPath,
    detail: "the lock kept changing hands; another process is starting on the same state directory"
  })
})
