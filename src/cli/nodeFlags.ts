/**
 * The V8 heap settings the outboxx process runs with.
 *
 * On a machine with plenty of RAM, V8 sizes the young generation at up to
 * 64 MB per semi-space (134 MB committed). Smaller semi-spaces keep a backlog
 * drain's resident set lower but scavenge more often, and more of the rows in
 * flight reach the old generation. Measured on 1,000,000-change drains
 * (scavenge time summed from --trace-gc; peak RSS), records in flight as
 * Buffers (see kafka/batching.ts):
 *   24 MB  131 scavenges, 1.47 s, 279 MB
 *   16 MB  241 scavenges, 1.46 s, 239 MB
 *    8 MB  479 scavenges, 2.16 s, 271 MB (more promoted: the old generation grows)
 * 16 MB costs no more GC than 24 and holds 40 MB less. (Before the records
 * were Buffers the rows in flight were costlier to copy and 24 MB was the
 * better choice; the default, 64 MB, peaked at 369-396 MB.)
 *
 * Heap sizes can only be set when the VM starts, so `node dist/main.js`
 * replaces itself (execve: same pid, same stdio, signals still reach it) with
 * `node --max-semi-space-size=16 dist/main.js ...` before loading anything.
 * It does not when the flag is already given (command line or NODE_OPTIONS),
 * when OUTBOXX_NODE_FLAGS=off, or when the runtime lacks process.execve.
 */
export const daemonNodeFlags: ReadonlyArray<string> = ["--max-semi-space-size=16"]

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
