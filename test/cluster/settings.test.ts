/**
 * The cluster runner file and its pipelines directory: what loads, and the
 * message for each mistake (every file's issues at once, each named by file).
 */
import * as fs from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import { isClusterConfig, loadClusterSettings } from "../../src/cluster/settings.js"

const runner = (extra = "") => `
[cluster]
url = "postgres://outboxx@control:5432/outboxx"
runner = "10.0.0.5:34431"
${extra}
`
const pipeline = (db: string, slot: string, extra = "") => `
[postgres]
url = "postgres://outboxx@${db}:5432/app"
slot = "${slot}"
publication = "${slot}"
[kafka]
brokers = ["kafka:9092"]
${extra}
[[streams]]
name = "s"
tables = ["t"]
`

const setup = (runnerText: string, pipelines: Record<string, string>) => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), "outboxx-cluster-settings-"))
  fs.writeFileSync(path.join(dir, "runner.toml"), runnerText)
  fs.mkdirSync(path.join(dir, "pipelines"))
  for (const [file, text] of Object.entries(pipelines)) fs.writeFileSync(path.join(dir, "pipelines", file), text)
  return path.join(dir, "runner.toml")
}

const issuesOf = async (file: string): Promise<Array<string>> => {
  const exit = await Effect.runPromiseExit(loadClusterSettings(file, {}))
  if (Exit.isSuccess(exit)) throw new Error("expected the settings to be refused")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")!.error
  return error.message.split("\n")
}

describe("cluster settings", () => {
  it("tells a runner file from a pipeline file", () => {
    expect(isClusterConfig(runner())).toBe(true)
    expect(isClusterConfig(pipeline("db", "s"))).toBe(false)
    expect(isClusterConfig("not = [toml")).toBe(false)
  })

  it("loads the runner and each pipeline, whose state goes to the control database by default", async () => {
    const file = setup(runner(`lock_expiration = "15s"\nweight = 2`), {
      "orders.toml": pipeline("db1", "outboxx"),
      "billing.toml": pipeline("db2", "outboxx", `[state]\nschema = "custom"`),
      "README.md": "not a pipeline"
    })
    const settings = await Effect.runPromise(loadClusterSettings(file, {}))
    expect(settings.cluster.runner).toEqual({ host: "10.0.0.5", port: 34431 })
    expect(settings.cluster.weight).toBe(2)
    expect(settings.pipelines.map((p) => p.name)).toEqual(["billing", "orders"])
    const [billing, orders] = settings.pipelines
    expect(orders!.settings.state.backend).toBe("postgres")
    expect(Redacted.value(orders!.settings.state.url!)).toBe("postgres://outboxx@control:5432/outboxx")
    expect(orders!.settings.state.schema).toBe("outboxx_state")
    expect(billing!.settings.state.schema).toBe("custom")
  })

  it("refuses a file journal, a shared slot, a bad file name and a bad runner address, all at once where it can", async () => {
    expect(await issuesOf(setup(runner(), {
      "a.toml": pipeline("db1", "s1", `[state]\nbackend = "file"`),
      "Bad Name.toml": pipeline("db1", "s2")
    }))).toEqual([
      `Bad Name.toml: expected a pipeline file name of 1 to 63 lowercase letters, digits, "_" or "-" before .toml, found "Bad Name.toml"`,
      `a.toml: state.backend: expected "postgres" (or nothing) in cluster mode, found "file": another runner must be able to resume this pipeline`
    ].map((m) => expect.stringContaining(`runner.toml: ${m}`)))
    expect(await issuesOf(setup(runner(), { "a.toml": pipeline("db1", "s"), "b.toml": pipeline("db1", "s") })))
      .toEqual([expect.stringContaining(`expected a slot no other pipeline uses, found "s", which pipeline "a" reads on the same database`)])
    const eos = `[kafka]\ndelivery = "exactly-once"`.replace("[kafka]\n", "")
    expect(await issuesOf(setup(runner(), {
      "a.toml": pipeline("db1", "s").replace(`brokers = ["kafka:9092"]`, `brokers = ["kafka:9092"]\n${eos}`),
      "b.toml": pipeline("db2", "s").replace(`brokers = ["kafka:9092"]`, `brokers = ["kafka:9092"]\n${eos}`)
    }))).toEqual([expect.stringContaining("their Kafka transactional ids (outboxx-<slot>) would fence each other")])
    expect(await issuesOf(setup(runner().replace("10.0.0.5:34431", "10.0.0.5"), { "a.toml": pipeline("db1", "s") })))
      .toEqual([expect.stringContaining(`expected "host:port", found "10.0.0.5"`)])
    expect(await issuesOf(setup(runner(), {}))).toEqual([expect.stringContaining("expected at least one pipeline file (*.toml)")])
  })

  it("expands shards = N into N pipelines, each with its own slot and publication", async () => {
    const file = setup(runner(), { "hot.toml": pipeline("db1", "hot").replace("[kafka]", "shards = 3\n[kafka]") })
    const settings = await Effect.runPromise(loadClusterSettings(file, {}))
    expect(settings.pipelines.map((p) => [p.name, p.settings.postgres.slot, p.settings.postgres.publication, p.shard])).toEqual([
      ["hot-s0", "hot_s0", "hot_s0", { index: 0, count: 3 }],
      ["hot-s1", "hot_s1", "hot_s1", { index: 1, count: 3 }],
      ["hot-s2", "hot_s2", "hot_s2", { index: 2, count: 3 }]
    ])
    expect(await issuesOf(setup(runner(), {
      "hot.toml": pipeline("db1", "hot").replace("[kafka]", "shards = 2\n[kafka]"),
      "hot-s1.toml": pipeline("db2", "other")
    }))).toEqual([expect.stringContaining(`expected a pipeline name of its own, found "hot-s1", which hot`)])
    expect(await issuesOf(setup(runner(), {
      "hot.toml": pipeline("db1", "hot").replace("[kafka]", `shards = 2\npublication_mode = "existing"\n[kafka]`)
    }))).toEqual([expect.stringContaining(`expected "filtered" with shards = 2, found "existing"`)])
  })
})
