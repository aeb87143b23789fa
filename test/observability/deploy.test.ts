/**
 * The monitoring files shipped in deploy/: the Prometheus alert rules pass
 * `promtool check rules` and their unit tests (`promtool test rules`), and
 * the rules and the Grafana dashboard name only metrics Outboxx exports.
 *
 * promtool comes from Debian's prometheus package (dev/prometheus.sh, run by
 * `npm test`); run by hand without it, the promtool checks say so and skip.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import * as Metrics from "../../src/observability/metrics.js"
import { processMetrics } from "../../src/observability/processMetrics.js"
import { repoRoot } from "../support/servers.js"

const rulesFile = path.join(repoRoot, "deploy/prometheus/outboxx-alerts.yml")
const rulesTest = path.join(repoRoot, "deploy/prometheus/outboxx-alerts.test.yml")
const dashboardFile = path.join(repoRoot, "deploy/grafana/outboxx-dashboard.json")

const promtool = process.env.OUTBOXX_TEST_PROMTOOL
const exported = new Set([...Metrics.allMetrics, ...processMetrics].map((m) => m.id))
/** Histograms are scraped as <name>_bucket, _sum and _count. */
const known = (name: string) => exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, ""))

const metricNames = (text: string): Set<string> =>
  new Set([...text.matchAll(/\b((?:outboxx|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!))

describe("deploy/ monitoring files", () => {
  it("the alert rules and the dashboard name only metrics Outboxx exports", () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as { panels: Array<{ targets?: Array<{ expr: string }> }> }
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr)
    expect(exprs.length).toBeGreaterThan(20)
    const used = [...metricNames(exprs.join("\n")), ...metricNames(readFileSync(rulesFile, "utf8"))]
    expect(used.filter((name) => !known(name))).toEqual([])
  })

  it.skipIf(promtool === undefined)("promtool check rules and promtool test rules pass", () => {
    const check = execFileSync(promtool!, ["check", "rules", rulesFile], { encoding: "utf8" })
    expect(check).toMatch(/SUCCESS: \d+ rules found/)
    const test = execFileSync(promtool!, ["test", "rules", rulesTest], { encoding: "utf8", cwd: path.dirname(rulesTest) })
    expect(test).toMatch(/SUCCESS/)
  })
})
