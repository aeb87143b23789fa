/**
 * TLS to PostgreSQL like libpq, with the built CLI: a real TLS handshake
 * (test/support/tlsProxy.ts fronts the local server with a certificate for
 * 127.0.0.1) for require, verify-full, prefer and allow, and the failures
 * that waiting cannot fix stop with their reason instead of retrying forever.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTestDatabase, pgQuery, readTopic, runCli, spawnCli, type TestDatabase } from "../support/servers.js"
import { writeRunConfig } from "../support/runConfig.js"
import { makeCertificate, startTlsProxy, type TlsProxy } from "../support/tlsProxy.js"

let db: TestDatabase
let proxy: TlsProxy
let refusingProxy: TlsProxy
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-tls-"))

beforeAll(async () => {
  db = await createTestDatabase("e2e_tls")
  const port = Number(new URL(db.url).port)
  proxy = await startTlsProxy(port)
  refusingProxy = await startTlsProxy(port, { plain: "refuse" })
  await pgQuery(db.url, `CREATE TABLE public.secure (id int PRIMARY KEY)`)
})
afterAll(async () => {
  await proxy?.close()
  await refusingProxy?.close()
  await db?.drop()
})

/** The test database's URL through `port`, with `query` (sslmode and friends). */
const urlVia = (port: number, query: string) => {
  const url = new URL(db.url)
  url.port = String(port)
  return `${url.toString()}?${query}`
}

let rows = 0
/** Runs the daemon on `url` until one new row of public.secure arrives in Kafka. */
const streamsOver = async (name: string, url: string) => {
  const config = writeRunConfig({
    dir: workDir,
    name,
    url,
    postgres: `snapshot = "never"`,
    streams: `[[streams]]\nname = "s"\ntables = ["secure"]\ntopic = "PREFIX.{table}"\n`
  })
  const cli = spawnCli(["run", "-c", config.file])
  await cli.waitForLine(/streaming slot/, 60_000)
  const id = ++rows
  await pgQuery(db.url, `INSERT INTO public.secure VALUES (${id})`)
  const events = await readTopic(`${config.prefix}.secure`, { count: 1, timeoutMs: 30_000 })
  expect(JSON.parse(events[0]!.key!)).toEqual({ id })
  expect((await cli.stop("SIGTERM", 15_000)).code).toBe(0)
}

describe("TLS to PostgreSQL (sslmode as libpq)", () => {
  it("require and verify-full (with sslrootcert) stream over TLS; no connection stays plain", async () => {
    const before = { ...proxy.counts }
    await streamsOver("tls_require", urlVia(proxy.port, "sslmode=require"))
    await streamsOver("tls_verify", urlVia(proxy.port, `sslmode=verify-full&sslrootcert=${encodeURIComponent(proxy.certFile)}`))
    expect(proxy.counts.tls - before.tls).toBeGreaterThanOrEqual(6)
    expect(proxy.counts.plain - before.plain).toBe(0)
  })

  it("prefer uses TLS when the server offers it; allow goes plain, and to TLS when pg_hba refuses plain", async () => {
    const before = { ...proxy.counts }
    await streamsOver("tls_prefer", urlVia(proxy.port, "sslmode=prefer"))
    expect(proxy.counts.plain - before.plain).toBe(0)
    expect(proxy.counts.tls - before.tls).toBeGreaterThan(0)

    const refusing = { ...refusingProxy.counts }
    await streamsOver("tls_allow", urlVia(refusingProxy.port, "sslmode=allow"))
    // Every connection tried plain first, was refused (28000), and then succeeded over TLS.
    const plain = refusingProxy.counts.plain - refusing.plain
    expect(plain).toBeGreaterThan(0)
    expect(refusingProxy.counts.tls - refusing.tls).toBe(plain)
  })

  it("a certificate that does not verify, or require against a server without TLS, stops with the reason (no retry loop)", async () => {
    const other = makeCertificate("other-ca")
    const cases: Array<[string, string, RegExp]> = [
      ["wrong CA", urlVia(proxy.port, `sslmode=verify-full&sslrootcert=${encodeURIComponent(other.certFile)}`), /self[- ]signed certificate|unable to verify/i],
      ["no TLS on the server", urlVia(Number(new URL(db.url).port), "sslmode=require"), /does not support SSL connections/]
    ]
    for (const [what, url, reason] of cases) {
      const config = writeRunConfig({
        dir: workDir,
        name: "tls_fail",
        url,
        streams: `[[streams]]\nname = "s"\ntables = ["secure"]\ntopic = "PREFIX.{table}"\n`
      })
      const result = await runCli(["run", "-c", config.file], { timeoutMs: 60_000 })
      expect(result.code, what).toBe(1)
      expect(result.stderr, what).toMatch(reason)
      const check = await runCli(["check", "-c", config.file], { timeoutMs: 60_000 })
      expect(check.code, what).toBe(1)
      expect(check.stdout, what).toMatch(reason)
    }
  })
})
