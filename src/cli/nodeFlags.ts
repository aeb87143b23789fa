/**
 * The V8 heap settings the outboxx process runs with.
 *
 * On a machine with plenty of RAM, V8 sizes the young generation at up to
 * 64 MB per semi-space (134 MB committed). Smaller semi-spaces keep a backlog
 * drain's resident set lower but scavenge more often, and more of the rows in
 * flight reach the old generation. Measured on one 1,000,000-change drain each
 * (GC share of the CPU profile; peak RSS without the profiler):
 *   64 MB (default) 7.2% GC, 369-396 MB
 *   32 MB           8.2%
 *   24 MB           8.3-9.0% GC, 307-350 MB
 *   16 MB           11.1-14.2% GC, 263-310 MB
 * 24 MB is the smallest that costs about as much GC as the default.
 *
 * Heap sizes can only be set when the VM starts, so `node dist/main.js`
 * replaces itself (execve: same pid, same stdio, signals still reach it) with
 * `node --max-semi-space-size=24 dist/main.js ...` before loading anything.
 * It does not when the flag is already given (command line or NODE_OPTIONS),
 * when OUTBOXX_NODE_FLAGS=off, or when the runtime lacks process.execve.
 */
export const daemonNodeFlags: ReadonlyArray<string> = ["--max-semi-space-size=24"]

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
    { ...process.env, [nodeFlagsEnv]: "applied" }
  )
}
