/**
 * `format = "avro"` against a real schema registry and real Avro consumers:
 * Apicurio Registry 3.0.9 (dev/registry.sh: its Confluent-compatible API),
 * Apicurio's Kafka Connect AvroConverter (what a Connect sink runs) and
 * Confluent's Python deserializer (dev/python.sh).
 *
 * One `outboxx run` (the built CLI) streams a table of every type family
 * twice: format debezium (JsonConverter JSON with schemas) and format avro.
 * Read back through Apicurio's AvroConverter and written out by Kafka's
 * JsonConverter, every avro key and value must equal the debezium format's
 * JSON, schemas and payloads: the Avro schemas carry Debezium's Connect
 * types, names and parameters as Confluent's AvroData writes them. Python
 * decodes the same records, integers exact past 2^53. Then the table
 * evolves: a new column registers the next schema version; a change the
 * subject's compatibility rule refuses stops the stream with the reason, and
 * after the rule is relaxed the change arrives (nothing lost).
 *
 * Needs Java 17 (the registry, the converter) and python3; skipped, saying
 * why, without them.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { everyTypeChanges, everyTypeSetup } from "../support/everyType.js"
import { writeRunConfig } from "../support/runConfig.js"
import { createTestDatabase, freePort, kafkaBrokers, pgQuery, readTopic, repoRoot, spawnCli, type TestDatabase } from "../support/servers.js"
import { makeCertificate } from "../support/tlsProxy.js"

const unavailable = (): string | undefined => {
  for (const [tool, args] of [["java", ["-version"]], ["python3", ["--version"]]] as const) {
    if (spawnSync(tool, [...args], { stdio: "ignore" }).status !== 0) return `no ${tool} on PATH`
  }
  return undefined
}
const skipReason = unavailable()
if (skipReason !== undefined) console.warn(`avro e2e skipped: ${skipReason}`)

const settingsOf = (output: string): Record<string, string> =>
  Object.fromEntries(output.trim().split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]))

const devScript = (script: string, ...args: Array<string>): Record<string, string> =>
  settingsOf(execFileSync("bash", [path.join(repoRoot, "dev", script), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900_000 }))

let registryUrl: string
let converterClasspath: string
let python: string
let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-avro-"))

/** Records as Apicurio's AvroConverter reads them, written out by JsonConverter with schemas: `{key, value}` per line. */
const readThroughConverter = (topic: string, count: number): Array<{ key: unknown; value: unknown }> => {
  const registryV2 = registryUrl.replace(/\/apis\/ccompat\/v7$/, "/apis/registry/v2")
  const out = execFileSync(
    "java",
    ["-cp", converterClasspath, path.join(repoRoot, "test/support/java/ConnectRead.java"), kafkaBrokers()[0]!, topic, String(count), registryV2, "60000"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 120_000 }
  )
  return out.trim().split("\n").map((line) => JSON.parse(line) as { key: unknown; value: unknown })
}

/** Records as Confluent's Python AvroDeserializer decodes them. */
const readThroughPython = (
  topic: string,
  count: number,
  registry: { url: string; auth?: string; ca?: string } = { url: registryUrl }
): Array<{ key: Record<string, unknown> | null; value: Record<string, unknown> | null }> => {
  const secure = registry.auth === undefined ? [] : [registry.auth, registry.ca!]
  const out = execFileSync(python, [path.join(repoRoot, "test/support/python/avro_read.py"), kafkaBrokers()[0]!, topic, String(count), registry.url, "60", ...secure], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 120_000
  })
  // Python's json writes integers of any size; JSON.parse would round those past 2^53, so they are kept as text.
  return out.trim().split("\n").map((line) => JSON.parse(line.replace(/(?<=[:\[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, "\"$1n\"")))
}

/** Schema names carry each stream's topic; `source.name` is the stream's name; `ts_*` of the envelope is processing time. */
const comparable = (record: { key: unknown; value: unknown }, topic: string, stream: string): unknown => {
  const text = JSON.stringify(record).replaceAll(`"${topic}.`, "\"TOPIC.")
  const parsed = JSON.parse(text) as { key: unknown; value: { payload: Record<string, unknown> } | null }
  if (parsed.value !== null) {
    const payload = parsed.value.payload
    delete payload.ts_ms
    delete payload.ts_us
    delete payload.ts_ns
    const source = payload.source as Record<string, unknown>
    expect(source.name).toBe(stream)
    delete source.name
  }
  return parsed
}

describe.skipIf(skipReason !== undefined)("format avro with Apicurio Registry", () => {
  beforeAll(async () => {
    registryUrl = devScript("registry.sh", "up").OUTBOXX_TEST_REGISTRY_URL!
    converterClasspath = devScript("registry.sh", "converter").OUTBOXX_TEST_REGISTRY_CONVERTER_CP!
    python = devScript("python.sh").OUTBOXX_TEST_PYTHON!
    db = await createTestDatabase("avro")
    await pgQuery(db.url, everyTypeSetup)
  }, 900_000)
  afterAll(async () => {
    await db?.drop()
  })

  it("writes Debezium's events as Confluent-framed Avro that Apicurio's converter and Python decode to the same data", async () => {
    const config = writeRunConfig({
      dir: workDir,
      name: "avro",
      url: db.url,
      kafka: `[kafka.schema_registry]\nurl = "${registryUrl}"\n`,
      streams: `
[[streams]]
name = "dbz"
tables = ["t"]
topic = "PREFIX.json.{table}"
format = "debezium"

[[streams]]
name = "avr"
tables = ["t"]
topic = "PREFIX.avro.{table}"
format = "avro"
`
    })
    const cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      await pgQuery(db.url, everyTypeChanges)
      // 2 inserts, 1 update, a key change (delete + tombstone + create), 2 deletes with their tombstones.
      const count = 10
      const json = await readTopic(`${config.prefix}.json.t`, { count, timeoutMs: 60_000 })
      expect(json).toHaveLength(count)
      const avro = readThroughConverter(`${config.prefix}.avro.t`, count)
      expect(avro).toHaveLength(count)
      // The key change carries Debezium's headers, as in format debezium (the delete and its tombstone, then the create).
      const raw = await readTopic(`${config.prefix}.avro.t`, { count, timeoutMs: 30_000 })
      expect(raw.map((m) => Object.keys(m.headers)).flat()).toEqual(json.map((m) => Object.keys(m.headers)).flat())
      expect(raw.map((m) => Object.keys(m.headers)).flat()).toEqual(["__debezium.newkey", "__debezium.newkey", "__debezium.oldkey"])

      for (let i = 0; i < count; i++) {
        const fromJson = {
          key: json[i]!.key === null ? null : JSON.parse(json[i]!.key!),
          value: json[i]!.value === null ? null : JSON.parse(json[i]!.value!)
        }
        expect(comparable(avro[i]!, `${config.prefix}.avro.t`, "avr")).toEqual(comparable(fromJson, `${config.prefix}.json.t`, "dbz"))
      }
      // What was compared: the envelope's row schema with every column, and the values.
      const first = avro[0] as { value: { schema: { fields: Array<{ field: string; fields?: Array<unknown> }> }; payload: { after: Record<string, unknown> } } }
      expect(first.value.schema.fields.find((f) => f.field === "after")!.fields).toHaveLength(43)
      expect(first.value.payload.after).toMatchObject({ id: 1, c_int4: 2, c_num: "BNI=", c_enum: "happy", c_point: { x: 1.5, y: 2 } })

      const decoded = readThroughPython(`${config.prefix}.avro.t`, count)
      expect(decoded.map((r) => r.value === null ? null : r.value.op)).toEqual(["c", "c", "u", "d", null, "c", "d", null, "d", null])
      expect(decoded[0]!.value!.after as Record<string, unknown>).toMatchObject({
        id: 1,
        c_int8: 3,
        c_num: { decimal: "12.34" },
        c_text: "hello",
        c_bytea: { base64: "AP8=" },
        c_int_arr: [1, 2, null],
        c_enum: "happy",
      })
      expect(decoded[0]!.key).toEqual({ id: 1 })
    } finally {
      expect((await cli.stop("SIGTERM", 20_000)).code).toBe(0)
    }
  }, 300_000)

  it("registers the next schema version on ALTER TABLE, and stops loudly, losing nothing, when the registry refuses one", async () => {
    await pgQuery(db.url, "CREATE TABLE evolving (id int PRIMARY KEY, amount int2)")
    const config = writeRunConfig({
      dir: workDir,
      name: "avro_ev",
      url: db.url,
      kafka: `[kafka.schema_registry]\nurl = "${registryUrl}"\n`,
      streams: `
[[streams]]
name = "ev"
tables = ["evolving"]
topic = "PREFIX.{table}"
format = "avro"
`
    })
    const topic = `${config.prefix}.evolving`
    const subject = `${topic}-value`
    const versions = async () => (await (await fetch(`${registryUrl}/subjects/${subject}/versions`)).json()) as Array<number>
    let cli = spawnCli(["run", "-c", config.file])
    await cli.waitForLine(/streaming slot/, 60_000)
    await pgQuery(db.url, "INSERT INTO evolving VALUES (1, 10)")
    await pgQuery(db.url, "ALTER TABLE evolving ADD COLUMN note text; INSERT INTO evolving VALUES (2, 20, 'second')")
    let decoded = readThroughPython(topic, 2)
    expect(decoded.map((r) => r.value!.after)).toEqual([{ id: 1, amount: 10 }, { id: 2, amount: 20, note: "second" }])
    expect(await versions()).toHaveLength(2)

    // BACKWARD: a reader of the new schema must read the old data; int16 -> string cannot be read so.
    const put = await fetch(`${registryUrl}/config/${subject}`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
      body: JSON.stringify({ compatibility: "BACKWARD" })
    })
    expect(put.status).toBe(200)
    await pgQuery(db.url, "ALTER TABLE evolving ALTER COLUMN amount TYPE text; INSERT INTO evolving VALUES (3, 'thirty', 'third')")
    const stopped = await cli.exited
    expect(stopped.code).toBe(1)
    expect(stopped.stderr).toMatch(new RegExp(`stream "ev", table public.evolving: the schema registry refused the new schema of subject "${subject}" as incompatible`))

    // The rule relaxed, the same configuration starts again and the refused change arrives.
    await fetch(`${registryUrl}/config/${subject}`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
      body: JSON.stringify({ compatibility: "NONE" })
    })
    cli = spawnCli(["run", "-c", config.file])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      decoded = readThroughPython(topic, 3)
      expect(decoded[2]!.value!.after).toEqual({ id: 3, amount: "thirty", note: "third" })
      expect(await versions()).toHaveLength(3)
    } finally {
      expect((await cli.stop("SIGTERM", 20_000)).code).toBe(0)
    }
  }, 300_000)

  it("registers over TLS with basic authentication (password from the environment, never logged), and says so when the registry refuses the credentials", async () => {
    // A registry of its own: Apicurio with HTTPS only and Quarkus's embedded users.
    const { certFile, keyFile } = makeCertificate("registry")
    const [httpPort, managementPort, tlsPort] = [await freePort(), await freePort(), await freePort()]
    const jar = devScript("registry.sh", "jar").OUTBOXX_TEST_REGISTRY_JAR!
    const registry: ChildProcess = spawn("java", [
      "-Xmx384m",
      "-Dquarkus.http.host=127.0.0.1", `-Dquarkus.http.port=${httpPort}`, "-Dquarkus.http.insecure-requests=disabled",
      "-Dquarkus.management.host=127.0.0.1", `-Dquarkus.management.port=${managementPort}`,
      `-Dquarkus.http.ssl-port=${tlsPort}`, `-Dquarkus.http.ssl.certificate.files=${certFile}`, `-Dquarkus.http.ssl.certificate.key-files=${keyFile}`,
      "-Dquarkus.http.auth.basic=true", "-Dquarkus.security.users.embedded.enabled=true", "-Dquarkus.security.users.embedded.plain-text=true",
      "-Dquarkus.security.users.embedded.users.outboxx=s3cret-pw", "-Dquarkus.security.users.embedded.roles.outboxx=sr-admin",
      "-Dapicurio.authn.enabled=true", "-Dquarkus.oidc.tenant-enabled=false",
      "-jar", jar
    ], { stdio: "ignore" })
    try {
      const url = `https://127.0.0.1:${tlsPort}/apis/ccompat/v7`
      const deadline = Date.now() + 120_000
      while (spawnSync("curl", ["-fs", "-o", "/dev/null", "--cacert", certFile, "-u", "outboxx:s3cret-pw", `${url}/subjects`]).status !== 0) {
        if (Date.now() > deadline) throw new Error("the TLS registry did not start within 120 s")
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      await pgQuery(db.url, "CREATE TABLE secured (id int PRIMARY KEY, name text)")
      const section = (password: string) =>
        `[kafka.schema_registry]\nurl = "${url}"\nusername = "outboxx"\npassword = "${password}"\n[kafka.schema_registry.tls]\nca = "${certFile}"\n`
      const streams = `
[[streams]]
name = "sec"
tables = ["secured"]
topic = "PREFIX.{table}"
format = "avro"
`
      const wrong = writeRunConfig({ dir: workDir, name: "avro_badpw", url: db.url, kafka: section("${REGISTRY_PASSWORD}"), streams })
      await pgQuery(db.url, "INSERT INTO secured VALUES (1, 'one')")
      const refused = spawnCli(["run", "-c", wrong.file], { env: { REGISTRY_PASSWORD: "not-the-password" } })
      const result = await refused.exited
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/the schema registry at https:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7\/ refused our credentials \(HTTP 401\)/)
      expect(result.stdout + result.stderr).not.toContain("not-the-password")

      const right = writeRunConfig({ dir: workDir, name: "avro_tls", url: db.url, kafka: section("${REGISTRY_PASSWORD}"), streams })
      const cli = spawnCli(["run", "-c", right.file], { env: { REGISTRY_PASSWORD: "s3cret-pw" } })
      try {
        await cli.waitForLine(/streaming slot/, 60_000)
        const decoded = readThroughPython(`${right.prefix}.secured`, 1, { url, auth: "outboxx:s3cret-pw", ca: certFile })
        expect(decoded[0]!.value).toMatchObject({ op: "r", after: { id: 1, name: "one" } })
      } finally {
        expect((await cli.stop("SIGTERM", 20_000)).code).toBe(0)
      }
    } finally {
      registry.kill("SIGTERM")
    }
  }, 300_000)
})
