/**
 * Child processes measured the same way for every reader: CPU seconds
 * (utime + stime) and peak resident memory, read from /proc (Linux).
 *
 * A reader that exits by itself is run under GNU time, whose rusage covers the
 * whole process tree exactly. A reader we stop (outboxx, Debezium) is read
 * from /proc at the moment its work is done, before the SIGTERM, so shutdown
 * is not counted.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { devDir } from "./servers.js"

const CLOCK_TICKS = 100 // getconf CLK_TCK on Linux/x86_64

export interface ProcStats {
  /** utime + stime of the process tree, seconds. */
  readonly cpuS: number
  /** Peak resident set size, MiB. */
  readonly peakRssMb: number
}

const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** utime + stime of one process (all its threads), seconds. */
export const processCpuS = (pid: number): number | undefined => {
  const stat = readText(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  // The command name (field 2) may hold spaces: fields are counted after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return (utime + stime) / CLOCK_TICKS
}

const statusKb = (pid: number, key: "VmHWM" | "VmRSS"): number | undefined => {
  const status = readText(`/proc/${pid}/status`)
  const match = status?.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))
  return match ? Number(match[1]) : undefined
}

/** The process and its descendants, through /proc/<pid>/task/<tid>/children. */
export const processTree = (root: number): Array<number> => {
  const out: Array<number> = []
  const stack = [root]
  while (stack.length > 0) {
    const pid = stack.pop()!
    out.push(pid)
    let tasks: Array<string> = []
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`)
    } catch {
      continue
    }
    for (const tid of tasks) {
      const children = readText(`/proc/${pid}/task/${tid}/children`)
      if (children) for (const child of children.trim().split(/\s+/)) if (child) stack.push(Number(child))
    }
  }
  return out
}

/**
 * Samples a process tree: CPU per pid (last value seen, so processes that
 * came and went still count) and the peak of the tree's summed RSS.
 */
export class TreeSampler {
  private readonly cpuByPid = new Map<number, number>()
  private peakKb = 0
  private timer: NodeJS.Timeout | undefined
  private readonly root: () => number | undefined
  private readonly exclude: ReadonlySet<number>

  constructor(root: () => number | undefined, exclude: ReadonlySet<number> = new Set()) {
    this.root = root
    this.exclude = exclude
  }

  start(intervalMs = 100): this {
    this.timer = setInterval(() => this.sample(), intervalMs)
    this.timer.unref()
    return this
  }

  sample(): ProcStats {
    const root = this.root()
    if (root !== undefined) {
      let rssKb = 0
      for (const pid of processTree(root)) {
        if (this.exclude.has(pid)) continue
        const cpu = processCpuS(pid)
        if (cpu !== undefined) this.cpuByPid.set(pid, cpu)
        rssKb += statusKb(pid, "VmRSS") ?? 0
        // A single process's own high-water mark catches peaks between samples.
        this.peakKb = Math.max(this.peakKb, statusKb(pid, "VmHWM") ?? 0)
      }
      this.peakKb = Math.max(this.peakKb, rssKb)
    }
    return this.stats()
  }

  stats(): ProcStats {
    let cpu = 0
    for (const value of this.cpuByPid.values()) cpu += value
    return { cpuS: cpu, peakRssMb: this.peakKb / 1024 }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }
}

export interface TimedExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** From GNU time: exact rusage of the whole tree; undefined if time wrote nothing. */
  readonly time?: { readonly wallS: number; readonly cpuS: number; readonly maxRssMb: number }
}

export interface Measured {
  readonly child: ChildProcess
  /** The measured program's pid (the child of /usr/bin/time). */
  readonly pid: () => number | undefined
  readonly sampler: TreeSampler
  readonly exited: Promise<TimedExit>
  /** SIGTERM to the program, SIGKILL after `graceMs`; resolves when it exited. */
  readonly stop: (graceMs?: number) => Promise<TimedExit>
  readonly log: string
}

const GNU_TIME = "/usr/bin/time"

/**
 * Starts `command` under GNU time (when present) with its output in `logFile`,
 * killed after `timeoutMs` whatever happens.
 */
export const startMeasured = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly logFile: string; readonly timeoutMs: number; readonly env?: NodeJS.ProcessEnv; readonly cwd?: string }
): Measured => {
  const useTime = fs.existsSync(GNU_TIME)
  const timeFile = path.join(os.tmpdir(), `outboxx-bench-time-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`)
  const log = fs.openSync(options.logFile, "a")
  const child = useTime
    ? spawn(GNU_TIME, ["-f", "%e %U %S %M", "-o", timeFile, command, ...args], {
        stdio: ["ignore", log, log],
        env: options.env ?? process.env,
        cwd: options.cwd
      })
    : spawn(command, args, { stdio: ["ignore", log, log], env: options.env ?? process.env, cwd: options.cwd })
  fs.closeSync(log)
  const timePid = child.pid
  // Under time, the program is time's only child.
  let programPid: number | undefined = useTime ? undefined : timePid
  const pid = (): number | undefined => {
    if (programPid !== undefined || timePid === undefined) return programPid
    const children = readText(`/proc/${timePid}/task/${timePid}/children`)?.trim()
    if (children) programPid = Number(children.split(/\s+/)[0])
    return programPid
  }
  const sampler = new TreeSampler(pid).start()
  const exited = new Promise<TimedExit>((resolve) => {
    child.on("exit", (code, signal) => {
      sampler.stop()
      let time: TimedExit["time"]
      const text = readText(timeFile)
      fs.rmSync(timeFile, { force: true })
      const line = text?.trim().split("\n").pop()
      const parts = line?.split(" ").map(Number)
      if (parts && parts.length === 4 && parts.every((n) => Number.isFinite(n))) {
        time = { wallS: parts[0]!, cpuS: parts[1]! + parts[2]!, maxRssMb: parts[3]! / 1024 }
      }
      resolve(time ? { code, signal, time } : { code, signal })
    })
  })
  const killer = setTimeout(() => {
    const target = pid() ?? timePid
    if (target !== undefined) process.kill(target, "SIGKILL")
  }, options.timeoutMs)
  killer.unref()
  void exited.then(() => clearTimeout(killer))
  const stop = async (graceMs = 15_000): Promise<TimedExit> => {
    const target = pid()
    if (target !== undefined) {
      try {
        process.kill(target, "SIGTERM")
      } catch {
        // already gone
      }
    }
    const hard = setTimeout(() => {
      const again = pid()
      try {
        if (again !== undefined) process.kill(again, "SIGKILL")
      } catch {
        // already gone
      }
    }, graceMs)
    const result = await exited
    clearTimeout(hard)
    return result
  }
  return { child, pid, sampler, exited, stop, log: options.logFile }
}

/** Waits for `predicate` (polled every `everyMs`) or throws after `timeoutMs`. */
export const pollUntil = async <A>(
  what: string,
  timeoutMs: number,
  everyMs: number,
  probe: () => Promise<A | undefined>
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Jiffies the machine's CPUs spent busy and in total so far (the "cpu" line of /proc/stat). */
const cpuJiffies = (): { readonly busy: number; readonly total: number } | undefined => {
  const line = readText("/proc/stat")?.split("\n", 1)[0]
  if (line === undefined || !line.startsWith("cpu ")) return undefined
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = fields.reduce((sum, value) => sum + value, 0)
  // iowait counts as busy: a run that starts while the disk still writes back
  // the previous run's gigabyte of Kafka segments and WAL runs at half speed.
  const idle = fields[3]!
  return { busy: total - idle, total }
}

/**
 * Waits until the machine has been at most 15% busy for a whole 2 s window
 * (at most 60 s), so a run does not start while the previous one's aftermath
 * (a broker deleting a big topic, autovacuum after the backlog, a JVM still
 * exiting) competes for the CPUs. The same wait precedes every reader.
 * Returns the busy share of the last window.
 */
export const waitForQuietMachine = async (): Promise<number> => {
  const deadline = Date.now() + 60_000
  while (true) {
    const before = cpuJiffies()
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    const after = cpuJiffies()
    if (before === undefined || after === undefined) return 0 // not Linux: nothing to wait for
    const busyShare = (after.busy - before.busy) / Math.max(1, after.total - before.total)
    if (busyShare <= 0.15 || Date.now() >= deadline) return busyShare
  }
}

/**
 * CPU seconds spent so far by the servers every reader shares, and by the
 * whole machine: what a reader's own `cpu_s` leaves out (the walsender, the
 * snapshot's backends, the broker writing the records).
 */
export interface ServerUsage {
  /** The Kafka broker's JVM. */
  readonly brokerS: number
  /** The PostgreSQL cluster: the postmaster, its live children and the children it reaped. */
  readonly postgresS: number
  /** Every CPU of the machine: busy and in total (wall time x CPUs). */
  readonly busyS: number
  readonly totalS: number
}

const pidFrom = (file: string): number | undefined => {
  const pid = Number(readText(file)?.split("\n", 1)[0]?.trim())
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}

/** utime + stime + cutime + cstime: a process and the children it waited for (a backend's CPU moves there when it exits). */
const cpuWithReapedS = (pid: number): number | undefined => {
  const stat = readText(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS
}

/**
 * The dev servers' CPU (dev/kafka.sh's pid file, the cluster's
 * postmaster.pid) and the machine's; undefined off Linux or without them.
 * At the end of a run, `settleMs` later for the servers than for the
 * machine: a backend whose client just left is still exiting, and its CPU
 * only reaches the postmaster's reaped-children times once it is waited for.
 */
export const serverUsage = async (settleMs = 0): Promise<ServerUsage | undefined> => {
  const machine = cpuJiffies()
  if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs))
  const broker = pidFrom(path.join(devDir, "kafka", "kafka.pid"))
  const postmaster = pidFrom(path.join(devDir, "pg", "data", "postmaster.pid"))
  if (broker === undefined || postmaster === undefined || machine === undefined) return undefined
  const brokerS = processCpuS(broker)
  const postmasterS = cpuWithReapedS(postmaster)
  if (brokerS === undefined || postmasterS === undefined) return undefined
  let postgresS = postmasterS
  for (const pid of processTree(postmaster)) if (pid !== postmaster) postgresS += processCpuS(pid) ?? 0
  return { brokerS, postgresS, busyS: machine.busy / CLOCK_TICKS, totalS: machine.total / CLOCK_TICKS }
}

/** What the servers and the machine spent between two `serverUsage` readings. */
export interface ServerCost {
  readonly brokerCpuS: number
  readonly postgresCpuS: number
  /** The machine's busy share (0-1) over the run. */
  readonly busyDuring: number
}

export const serverCost = (before: ServerUsage | undefined, after: ServerUsage | undefined): ServerCost | undefined =>
  before === undefined || after === undefined ? undefined : {
    brokerCpuS: after.brokerS - before.brokerS,
    postgresCpuS: after.postgresS - before.postgresS,
    busyDuring: (after.busyS - before.busyS) / Math.max(0.01, after.totalS - before.totalS)
  }
