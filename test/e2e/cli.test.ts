/**
 * The built CLI (dist/main.js) as a child process: flags, exit codes, error
 * output, `status` and `slot drop` against the real local PostgreSQL, and a
 * clean stop on SIGTERM. Run `npm run build` first.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { daemonNodeFlags } from "../../src/cli/nodeFlags.js"
import { createTestDatabase, kafkaBrokers, pgQuery, repoRoot, runCli, spawnCli, type TestDatabase } from "../support/servers.js"

const dir = mkdtempSync(path.join(tmpdir(), "outboxx-cli-"))
const packageVersion = (JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string }).version
let db: TestDatabase
let config: string

const writeFile = (name: string, text: string): string => {
  const file = path.join(dir, name)
  writeFileSync(file, text)
  return file
}

beforeAll(async () => {
  db = await createTestDatabase("cli")
  await pgQuery(db.url, "CREATE TABLE orders (id int PRIMARY KEY, status text)")
  config = writeFile(
    "outboxx.toml",
    `[postgres]
url = ${JSON.stringify(db.url)}
slot = "${db.name}_slot"
publication = "${db.name}_pub"

[kafka]
brokers = ${JSON.stringify(kafkaBrokers())}

[http]
listen = ""

[[streams]]
name = "orders"
tables = ["orders"]
`
  )
})

afterAll(async () => db?.drop())

describe("outboxx CLI", () => {
  it("--help lists the subcommands and exits 0", async () => {
    const result = await runCli(["--help"])
    expect(result.code).toBe(0)
    for (const command of ["run", "check", "status", "snapshot", "slot", "tail"]) {
      expect(result.stdout).toMatch(new RegExp(`^\\s+${command}\\s`, "m"))
    }
  })

  it("--version prints the package version", async () => {
    const result = await runCli(["--version"])
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(`outboxx v${packageVersion}`)
  })

  it("an unknown subcommand or flag exits 2 and says what was wrong on stderr", async () => {
    const subcommand = await runCli(["bogus"])
    expect(subcommand.code).toBe(2)
    expect(subcommand.stderr).toContain(`Unknown subcommand "bogus"`)
    const flag = await runCli(["check", "--bogus", "-c", config])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain("--bogus")
  })

  it("a bad configuration exits 2 naming the file and the key path", async () => {
    const bad = writeFile(
      "bad.toml",
      `[postgres]\nurl = "postgres://x@127.0.0.1/db"\n\n[kafka]\nbrokers = ["127.0.0.1:9092"]\n\n` +
        `[[streams]]\nname = "a"\ntables = ["orders"]\n\n[[streams]]\nname = "b"\ntables = ["items"]\ntopic = "bad topic!"\n`
    )
    const result = await runCli(["check", "-c", bad])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`${bad}: streams[1].topic: expected a topic template`)
  })

  it("finds the config through OUTBOXX_CONFIG, and -c wins over it", async () => {
    const viaEnv = await runCli(["slot", "drop"], { env: { OUTBOXX_CONFIG: config } })
    expect(viaEnv.code).toBe(2)
    expect(viaEnv.stderr).toContain(`refusing to drop slot "${db.name}_slot" without --yes`)
    const missing = await runCli(["status"], { cwd: dir, env: { OUTBOXX_CONFIG: path.join(dir, "nope.toml") } })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("nope.toml: file not found")
    const flagWins = await runCli(["slot", "drop", "-c", config], { env: { OUTBOXX_CONFIG: path.join(dir, "nope.toml") } })
    expect(flagWins.stderr).toContain("without --yes")
  })

  it("snapshot refuses a table no stream captures (exit 2) and a slot that does not exist (exit 1)", async () => {
    const unconfigured = await runCli(["snapshot", "--table", "public.nope", "-c", config])
    expect(unconfigured.code, unconfigured.stderr).toBe(2)
    expect(unconfigured.stderr).toContain("public.nope")
    const noSlot = await runCli(["snapshot", "--table", "public.orders", "-c", config])
    expect(noSlot.code).toBe(1)
  })

  it("status prints the slot and publication; slot drop drops both when outboxx made them", async () => {
    const slot = `${db.name}_slot`
    const publication = `${db.name}_pub`
    const before = await runCli(["status", "--json", "-c", config])
    expect(before.code, before.stderr).toBe(0)
    expect(JSON.parse(before.stdout)).toMatchObject({ slot: { name: slot, exists: false }, publication: { exists: false } })

    await pgQuery(db.url, `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`)
    await pgQuery(db.url, `CREATE PUBLICATION "${publication}" FOR TABLE orders; COMMENT ON PUBLICATION "${publication}" IS 'managed by outboxx (slot ${slot})'`)
    const after = await runCli(["status", "-c", config])
    expect(after.code).toBe(0)
    expect(after.stdout).toMatch(new RegExp(`^slot\\s+"${slot}" inactive$`, "m"))
    expect(after.stdout).toMatch(/^confirmed lsn\s+[0-9A-F]+\/[0-9A-F]+$/m)
    expect(after.stdout).toMatch(/^lag\s+.*bytes\)$/m)
    expect(after.stdout).toMatch(new RegExp(`^publication\\s+"${publication}" \\(managed by outboxx\\): public\\.orders$`, "m"))

    const dropped = await runCli(["slot", "drop", "--yes", "-c", config])
    expect(dropped.code, dropped.stderr).toBe(0)
    expect(dropped.stdout).toContain(`dropped slot "${slot}"`)
    expect(dropped.stdout).toContain(`dropped publication "${publication}" (created by outboxx for this slot)`)
    // The journal learns the drop was deliberate, so the next run starts afresh instead of refusing.
    expect(dropped.stdout).toContain("recorded the drop in the state journal")
    expect(await pgQuery(db.url, `SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}'`)).toEqual([])
    expect(await pgQuery(db.url, `SELECT 1 FROM pg_publication WHERE pubname = '${publication}'`)).toEqual([])
  })

  it("slot drop keeps a publication outboxx did not create", async () => {
    const publication = `${db.name}_pub`
    await pgQuery(db.url, `CREATE PUBLICATION "${publication}" FOR TABLE orders`)
    const result = await runCli(["slot", "drop", "--yes", "-c", config])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`kept publication "${publication}" (not created by outboxx)`)
    expect(await pgQuery(db.url, `SELECT 1 FROM pg_publication WHERE pubname = '${publication}'`)).toHaveLength(1)
    await pgQuery(db.url, `DROP PUBLICATION "${publication}"`)
  })

  it("slot drop refuses an active slot, naming the pid that holds it (exit 1)", async () => {
    const slot = `${db.name}_slot`
    await pgQuery(db.url, `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`)
    // A walsender streaming from the slot holds it.
    const holder = await import("pg").then(({ default: pg }) => new pg.Client({ connectionString: db.url, replication: "database" } as never))
    await holder.connect()
    holder.query(`START_REPLICATION SLOT "${slot}" LOGICAL 0/0 (proto_version '1', publication_names 'x')`).catch(() => undefined)
    try {
      let pid: number | null = null
      for (let i = 0; i < 50 && pid === null; i++) {
        const rows = await pgQuery<{ active_pid: number | null }>(db.url, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot}'`)
        pid = rows[0]?.active_pid ?? null
        if (pid === null) await new Promise((r) => setTimeout(r, 100))
      }
      expect(pid).not.toBeNull()
      const result = await runCli(["slot", "drop", "--yes", "-c", config])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(`slot "${slot}" is active, held by pid ${pid}`)
    } finally {
      await holder.end().catch(() => undefined)
    }
  })

  it("run stops cleanly on SIGTERM with exit 0, in the same process relaunched with the daemon's V8 flags", async () => {
    const cli = spawnCli(["run", "-c", config])
    await cli.waitForLine(/streaming slot/, 60_000)
    // execve keeps the pid: the process we started is the one streaming, now with the flags.
    const commandLine = readFileSync(`/proc/${cli.child.pid}/cmdline`, "utf8").split("\0")
    expect(commandLine.slice(1, 1 + daemonNodeFlags.length)).toEqual(daemonNodeFlags)
    expect(commandLine).toContain(path.join(repoRoot, "dist", "main.js"))
    const result = await cli.stop("SIGTERM", 30_000)
    expect(result.signal).toBeNull()
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/stopped; confirmed [0-9A-F]+\/[0-9A-F]+/)
  })

  it("OUTBOXX_NODE_FLAGS=off keeps the command line as given", async () => {
    const cli = spawnCli(["status", "-c", config], { env: { OUTBOXX_NODE_FLAGS: "off" } })
    const commandLine = readFileSync(`/proc/${cli.child.pid}/cmdline`, "utf8").split("\0")
    const result = await cli.exited
    expect(result.code).toBe(0)
    expect(commandLine.slice(1, 2)).toEqual([path.join(repoRoot, "dist", "main.js")])
  })
})
