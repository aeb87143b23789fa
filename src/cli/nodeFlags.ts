/**
 * The V8 heap settings the outboxx process runs with.
 *
 * On a machine with plenty of RAM, V8 sizes the young generation at up to
 * 64 MB per semi-space (134 MB committed) and lets the old generation grow to
 * several times what survived the last full collection before the next one.
 * A drain keeps little alive (records in flight are byte ranges of reused
 * slabs, see event/record/SlabPool.ts), so both are mostly room for
 * garbage. Measured on 1,000,000-change drains (rate, CPU, peak RSS; 2-3
 * runs each, this VM's speed drifts by 20%):
 *   defaults (semi-space 16 MB)                    136-147k/s, 6.3 s, 217-231 MB
 *   semi-space 8 MB                                131-154k/s, 5.9-6.8 s, 191-200 MB
 *   semi-space 8 MB, old growth 1.6x               148-175k/s, 5.7-6.7 s, 159-182 MB
 *   semi-space 8 MB, old growth 1.4x               129-153k/s, 7.2-8.4 s, 161-162 MB
 * and with one malloc arena (below):
 *   semi-space 8 MB, old growth 1.6x               158-184k/s, 5.3-6.2 s, 152-156 MB
 *   semi-space 4 MB, old growth 1.6x               132-175k/s, 5.8-6.5 s, 139-145 MB
 * `--heap-growing-percent=60` starts a full collection once the old
 * generation is 1.6 times what the previous one left: each is short (the live
 * heap is about 25 MB), and below that the extra collections cost more CPU
 * than they save memory. 4 MB semi-spaces scavenge twice as often as 8 MB
 * for about 5% of the rate and 12 MB less; we keep the daemon under 150 MB.
 *
 * The relaunch also sets MALLOC_ARENA_MAX=1 (unless set already): glibc's
 * malloc otherwise gives threads (V8's GC helpers, libuv's pool) arenas of
 * their own, which keep what they once held: 153-155 MB against 157-172 MB
 * (8 MB semi-spaces), at the same rate. musl and other allocators ignore it.
 *
 * Heap sizes can only be set when the VM starts, so `node dist/main.js`
 * replaces itself (execve: same pid, same stdio, signals still reach it) with
 * `node <these flags> dist/main.js ...` before loading anything.
 * It does not when the flags are already given (command line or NODE_OPTIONS),
 * when OUTBOXX_NODE_FLAGS=off, or when the runtime lacks process.execve.
 */
export const daemonNodeFlags: ReadonlyArray<string> = ["--max-semi-space-size=4", "--heap-growing-percent=60"]

/** Allocator settings for the relaunched process; the environment's own win. */
export const daemonEnv: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "1" }

/** Set in the relaunched process (so it does not relaunch again); `off` disables the relaunch. */
export const nodeFlagsEnv = "OUTBOXX_NODE_FLAGS"

const flagName = (flag: string): string => flag.split("=", 1)[0]!.replace(/_/g, "-")

/** The flags still to add: those neither on the command line nor in NODE_OPTIONS. */
export const missingNodeFlags = (execArgv: ReadonlyArray<string>, nodeOptions: string | undefined): Array<string> => {
  const given = new Set([...execArgv, ...(nodeOptions ?? "").split(/\s+/)].filter((arg) => arg.startsWith("--")).map(flagName))
  return daemonNodeFlags.filter((flag) => !given.has(flagName(flag)))
}

/** Replaces the process with one that has `daemonNodeFlags`; returns only when it does not. */
export const relaunchWithNodeFlags = (): void => {
  if (process.env[nodeFlagsEnv] !== undefined) return
  if (typeof process.execve !== "function") return
  const missing = missingNodeFlags(process.execArgv, process.env.NODE_OPTIONS)
  if (missing.length === 0) return
  process.execve(
    process.execPath,
    [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
    { ...daemonEnv, ...process.env, [nodeFlagsEnv]: "applied" }
  )
}
