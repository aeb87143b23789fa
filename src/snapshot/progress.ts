/**
 * Snapshot progress, per table: a live bar on a terminal (stderr, redrawn in
 * place: rows done of the estimate, rate, ETA), structured log lines
 * otherwise (every 5 s while a table runs, and when it ends); the
 * `outboxx_snapshot_rows_total{table}` counter, the `outboxx_snapshot_rows_remaining{table}`
 * and `outboxx_snapshot_tables{status}` gauges; and `snapshots` in HealthState
 * (GET /status).
 *
 * The readers call `add` per chunk (plain, synchronous); a fiber publishes
 * what accumulated every 250 ms.
 */
import { Duration, Effect, Metric, Schedule } from "effect"
import { HealthState } from "../observability/HealthState.js"
import * as Metrics from "../observability/metrics.js"

interface TableProgress {
  status: "running" | "done" | "failed"
  rows: number
  estimated: number
  startedAt: number
  /** Rows not yet added to the counter metric. */
  unpublished: number
  lastLoggedAt: number
  endLogged: boolean
}

export interface ProgressLine {
  readonly table: string
  readonly rows: number
  readonly estimated: number
  readonly elapsedMs: number
}

/** Rows per second, and the seconds left at that rate (undefined when unknown). */
export const rateAndEta = (line: ProgressLine): { rate: number; etaSeconds: number | undefined } => {
  const rate = line.elapsedMs > 0 ? (line.rows * 1000) / line.elapsedMs : 0
  const left = line.estimated - line.rows
  return { rate, etaSeconds: rate > 0 && left > 0 ? left / rate : undefined }
}

const formatCount = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n))

const formatEta = (seconds: number | undefined): string => {
  if (seconds === undefined) return "--:--"
  const s = Math.round(seconds)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`
}

/** One terminal line: `public.orders  [#####.....]  52% 520.0k/1.00M  85.1k rows/s  ETA 0:05`. */
export const renderBar = (line: ProgressLine, width = 24): string => {
  const fraction = line.estimated > 0 ? Math.min(1, line.rows / line.estimated) : 0
  const filled = Math.round(fraction * width)
  const { rate, etaSeconds } = rateAndEta(line)
  return `${line.table}  [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ` +
    `${formatCount(line.rows)}/${line.estimated > 0 ? formatCount(line.estimated) : "?"}  ${formatCount(rate)} rows/s  ETA ${formatEta(etaSeconds)}`
}

export class SnapshotProgress {
  private readonly tables = new Map<string, TableProgress>()
  private drawnLines = 0
  constructor(private readonly tty: boolean = process.stderr.isTTY === true) {}

  start(table: string, estimated: number, alreadyDone = 0): void {
    this.tables.set(table, {
      status: "running",
      rows: alreadyDone,
      estimated,
      startedAt: Date.now(),
      unpublished: 0,
      lastLoggedAt: Date.now(),
      endLogged: false
    })
  }

  add(table: string, rows: number): void {
    const t = this.tables.get(table)
    if (t === undefined) return
    t.rows += rows
    t.unpublished += rows
  }

  finish(table: string, failed = false): void {
    const t = this.tables.get(table)
    if (t !== undefined) t.status = failed ? "failed" : "done"
  }

  rows(table: string): number {
    return this.tables.get(table)?.rows ?? 0
  }

  /** Metrics, health, and the bar or log lines. */
  readonly publish: Effect.Effect<void> = Effect.suspend(() => this.publishNow())

  private publishNow(): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      const now = Date.now()
      const health = yield* HealthState
      const ended: Array<string> = []
      const running: Array<string> = []
      for (const [table, t] of self.tables) {
        if (t.unpublished > 0) {
          yield* Metric.update(Metric.withAttributes(Metrics.snapshotRowsTotal, { table }), t.unpublished)
          t.unpublished = 0
        }
        const line: ProgressLine = { table, rows: t.rows, estimated: Math.max(t.estimated, t.rows), elapsedMs: now - t.startedAt }
        if (self.tty) {
          if (t.status === "running") running.push(renderBar(line))
          else if (!t.endLogged) {
            t.endLogged = true
            ended.push(`${renderBar(line)} ${t.status}`)
          }
          continue
        }
        const { rate, etaSeconds } = rateAndEta(line)
        const fields = {
          table,
          rows: t.rows,
          estimatedRows: line.estimated,
          rowsPerSecond: Math.round(rate),
          ...(etaSeconds === undefined ? {} : { etaSeconds: Math.round(etaSeconds) })
        }
        if (t.status === "running" && now - t.lastLoggedAt >= 5000) {
          t.lastLoggedAt = now
          yield* Effect.logInfo("snapshot progress", fields)
        } else if (t.status !== "running" && !t.endLogged) {
          t.endLogged = true
          yield* t.status === "done"
            ? Effect.logInfo("snapshot of table done", { ...fields, seconds: Math.round((now - t.startedAt) / 100) / 10 })
            : Effect.logWarning("snapshot of table failed", fields)
        }
      }
      if (self.tty && (running.length > 0 || ended.length > 0 || self.drawnLines > 0)) self.draw(ended, running)
      const snapshots: Record<string, { status: "running" | "done" | "failed"; rows: number }> = {}
      const byStatus = { running: 0, done: 0, failed: 0 }
      for (const [table, t] of self.tables) {
        snapshots[table] = { status: t.status, rows: t.rows }
        byStatus[t.status]++
        const remaining = t.status === "running" ? Math.max(0, t.estimated - t.rows) : 0
        yield* Metric.update(Metric.withAttributes(Metrics.snapshotRowsRemaining, { table }), remaining)
      }
      if (self.tables.size > 0) {
        for (const status of ["running", "done", "failed"] as const) {
          yield* Metric.update(Metric.withAttributes(Metrics.snapshotTables, { status }), byStatus[status])
        }
      }
      yield* health.update((h) => ({ ...h, snapshots: { ...h.snapshots, ...snapshots } }))
    })
  }

  /** Publishes every 250 ms for the life of the scope, and once more at its end. */
  readonly run = this.publish.pipe(
    Effect.repeat(Schedule.spaced(Duration.millis(250))),
    Effect.ensuring(Effect.suspend(() => this.publish)),
    Effect.forkScoped
  )

  /** Ended tables' final lines are printed once and scroll away; running ones are redrawn in place. */
  private draw(ended: ReadonlyArray<string>, running: ReadonlyArray<string>): void {
    let out = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : ""
    for (const line of [...ended, ...running]) out += `\r\x1b[K${line}\n`
    const stale = this.drawnLines - ended.length - running.length
    for (let i = 0; i < stale; i++) out += "\r\x1b[K\n"
    process.stderr.write(out)
    this.drawnLines = running.length + Math.max(0, stale)
  }
}
