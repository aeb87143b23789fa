/**
 * One preflight finding per line:
 *   ok   postgres reachable (PostgreSQL 15.4 at 127.0.0.1:54329/shop)
 *   warn slot "outboxx" (active, held by pid 4242)
 *   FAIL wal_level (replica) — ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL
 * and the same as JSON objects {check, status, detail, fix?} for machines.
 */
export type CheckStatus = "ok" | "warn" | "fail"

export interface CheckResult {
  /** What was checked, short: "wal_level", `table "public"."orders"`. */
  readonly check: string
  readonly status: CheckStatus
  /** What was found. */
  readonly detail: string
  /** How to fix it (fail / warn only). */
  readonly fix?: string
}

export const ok = (check: string, detail: string): CheckResult => ({ check, status: "ok", detail })

export const warn = (check: string, detail: string, fix?: string): CheckResult =>
  fix === undefined ? { check, status: "warn", detail } : { check, status: "warn", detail, fix }

export const fail = (check: string, detail: string, fix?: string): CheckResult =>
  fix === undefined ? { check, status: "fail", detail } : { check, status: "fail", detail, fix }

const labels: Record<CheckStatus, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" }

export const renderLine = (result: CheckResult): string => {
  const detail = result.detail === "" ? "" : ` (${result.detail})`
  const fix = result.fix === undefined ? "" : ` — ${result.fix}`
  return `${labels[result.status]} ${result.check}${detail}${fix}`
}

export const renderText = (results: ReadonlyArray<CheckResult>): string => {
  const failures = results.filter((r) => r.status === "fail").length
  const warnings = results.filter((r) => r.status === "warn").length
  const summary = failures === 0
    ? `all ${results.length} checks passed${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? "" : "s"})` : ""}`
    : `${failures} of ${results.length} checks failed`
  return [...results.map(renderLine), "", summary].join("\n")
}

export const renderJson = (results: ReadonlyArray<CheckResult>): string => JSON.stringify(results, null, 2)

export const hasFailures = (results: ReadonlyArray<CheckResult>): boolean => results.some((r) => r.status === "fail")
