/**
 * `format = "debezium"` against Debezium itself: Debezium 3.7's PostgreSQL
 * connector (Kafka Connect standalone, JsonConverter with schemas, the
 * connector's defaults) and `outboxx run` (the built CLI) each stream the
 * same table of many column types from their own slot, the same changes are
 * made, and every key and value is compared field by field: schemas (types,
 * names, parameters, optionality, defaults) and payloads, plus the key-change
 * headers.
 *
 * What may differ, and why (docs/formats.md):
 * - schema names carry each side's topic prefix; `source.name` is the
 *   connector's / the stream's name; `source.version` is Debezium's release
 *   or "outboxx"; the envelope's `ts_*` is each one's processing time;
 * - `source.sequence` of each side's first event after it started (its first
 *   element is null there);
 * - Debezium's `__debezium.context.*` headers;
 * - the data collection Debezium's transaction metadata counts message
 *   events under, which ends in a Java object hash that changes per run,
 *   and the order of its END's data_collections, which follows that hash.
 *
 * The "transactions" run adds transaction metadata (BEGIN / END and each
 * event's block) and logical decoding messages, transactional and not.
 *
 * Needs Java and the jars dev/debezium.sh fetches (.dev/debezium/lib);
 * skipped, saying why, without them.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  createTestDatabase,
  freePort,
  javaProperties,
  pgQuery,
  readTopic,
  spawnCli,
  type TestDatabase,
  type TopicMessage,
  uniqueName
} from "../support/servers.js"
import { everyTypeChanges as changes, everyTypeSetup } from "../support/everyType.js"

const repoRoot = path.resolve(import.meta.dirname, "../..")
const connectLib = path.join(repoRoot, ".dev/debezium/lib")
const kafkaBroker = (process.env.OUTBOXX_TEST_KAFKA_BROKERS ?? "127.0.0.1:59092").split(",")[0]!
const pgPort = process.env.OUTBOXX_DEV_PG_PORT ?? "54329"

const unavailable = (): string | undefined => {
  try {
    execFileSync("java", ["-version"], { stdio: "ignore" })
  } catch {
    return "no java on PATH"
  }
  if (!existsSync(connectLib) || !readdirSync(connectLib).some((f) => f.startsWith("debezium-connector-postgres-"))) {
    return `no Debezium jars in ${connectLib}: run bash dev/debezium.sh fetch`
  }
  return undefined
}
const skipReason = unavailable()
if (skipReason !== undefined) console.warn(`debezium-equivalence e2e skipped: ${skipReason}`)



interface Parsed {
  readonly key: { schema: Record<string, unknown>; payload: unknown } | null
  readonly value: { schema: Record<string, unknown>; payload: Record<string, unknown> } | null
  readonly headers: Record<string, string>
}

const parse = (m: TopicMessage): Parsed => ({
  key: m.key === null ? null : JSON.parse(m.key),
  value: m.value === null ? null : JSON.parse(m.value),
  headers: Object.fromEntries(Object.entries(m.headers).filter(([k]) => !k.startsWith("__debezium.context.")))
})

/** Replaces each side's topic prefix in schema names, so the rest can be compared as is. */
const withoutPrefix = (value: unknown, prefix: string): unknown =>
  JSON.parse(JSON.stringify(value).replaceAll(`"${prefix}.`, `"PREFIX.`))

/**
 * Field-by-field differences, each with its path. Struct fields are matched
 * by their `field` name, object keys by name; each remaining value must be
 * equal (key order is compared separately, for the bytes).
 */
const differences = (dbz: Parsed, ox: Parsed, first: boolean, prefixes: readonly [string, string]): Array<string> => {
  const out: Array<string> = []
  const compare = (a: unknown, b: unknown, at: string): void => {
    if (JSON.stringify(a) === JSON.stringify(b)) return
    if (Array.isArray(a) && Array.isArray(b)) {
      const named = (list: Array<unknown>) =>
        list.every((x) => typeof x === "object" && x !== null && "field" in x)
          ? new Map(list.map((x) => [(x as { field: string }).field, x]))
          : undefined
      const [na, nb] = [named(a), named(b)]
      if (na !== undefined && nb !== undefined) {
        for (const name of new Set([...na.keys(), ...nb.keys()])) compare(na.get(name), nb.get(name), `${at}[${name}]`)
        if (JSON.stringify([...na.keys()]) !== JSON.stringify([...nb.keys()])) out.push(`${at}: field order differs`)
        return
      }
      if (a.length === b.length) return a.forEach((x, i) => compare(x, b[i], `${at}[${i}]`))
    } else if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        compare((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${at}.${key}`)
      }
      if (JSON.stringify(Object.keys(a)) !== JSON.stringify(Object.keys(b)) && Object.keys(a).length === Object.keys(b).length) {
        out.push(`${at}: key order ${Object.keys(a).join(",")} vs ${Object.keys(b).join(",")}`)
      }
      return
    }
    out.push(`${at}: debezium ${JSON.stringify(a)} vs outboxx ${JSON.stringify(b)}`)
  }
  compare(dbz.headers, ox.headers, "headers")
  compare(withoutPrefix(dbz.key, prefixes[0]), withoutPrefix(ox.key, prefixes[1]), "key")
  if (dbz.value === null || ox.value === null) {
    compare(dbz.value, ox.value, "value")
    return out
  }
  compare(withoutPrefix(dbz.value.schema, prefixes[0]), withoutPrefix(ox.value.schema, prefixes[1]), "value.schema")
  const strip = (payload: Record<string, unknown>) => {
    const { ts_ms: _ms, ts_us: _us, ts_ns: _ns, ...rest } = payload
    const source = { ...(rest.source as Record<string, unknown>) }
    delete source.name
    delete source.version
    if (first) delete source.sequence
    return { ...rest, source }
  }
  compare(strip(dbz.value.payload), strip(ox.value.payload), "value.payload")
  return out
}

/**
 * Debezium's value-handling modes, each run side by side: its defaults, and
 * every other mode of each option (connector properties / the stream's
 * `[streams.debezium]`).
 */
interface ModeSet {
  readonly name: string
  readonly connector: Record<string, string>
  readonly outboxx: string
}
const modeSets: ReadonlyArray<ModeSet> = [
  { name: "defaults", connector: {}, outboxx: "" },
  {
    name: "strings",
    connector: {
      "decimal.handling.mode": "string",
      "time.precision.mode": "connect",
      "interval.handling.mode": "string",
      "hstore.handling.mode": "map",
      "binary.handling.mode": "hex"
    },
    outboxx: `[streams.debezium]
decimal_handling_mode = "string"
time_precision_mode = "connect"
interval_handling_mode = "string"
hstore_handling_mode = "map"
binary_handling_mode = "hex"`
  },
  {
    name: "doubles",
    connector: { "decimal.handling.mode": "double", "time.precision.mode": "adaptive_time_microseconds", "binary.handling.mode": "base64" },
    outboxx: `[streams.debezium]
decimal_handling_mode = "double"
time_precision_mode = "adaptive_time_microseconds"
binary_handling_mode = "base64"`
  },
  { name: "urlsafe", connector: { "binary.handling.mode": "base64-url-safe" }, outboxx: `[streams.debezium]\nbinary_handling_mode = "base64-url-safe"` },
  // Transaction metadata: the block in each event, and BEGIN / END on the transaction topic (compared below).
  {
    name: "transactions",
    connector: { "provide.transaction.metadata": "true", "message.prefix.include.list": "audit\\..*" },
    outboxx: `transaction_topic = "TRANSACTION_TOPIC"\nmessages = ["audit.*"]\nmessages_topic = "MESSAGES_TOPIC"`
  }
]

let db: TestDatabase
const workDir = mkdtempSync(path.join(tmpdir(), "outboxx-dbz-eq-"))

describe.skipIf(skipReason !== undefined)("format debezium = Debezium 3.7's own output", () => {
  let connect: ChildProcess | undefined
  beforeAll(async () => {
    db = await createTestDatabase("dbz_eq")
    await pgQuery(db.url, everyTypeSetup)
  })
  afterAll(async () => {
    if (connect !== undefined && connect.exitCode === null) {
      const exited = new Promise<void>((resolve) => connect!.once("exit", () => resolve()))
      connect.kill("SIGTERM")
      const timer = setTimeout(() => connect!.kill("SIGKILL"), 20_000)
      await exited
      clearTimeout(timer)
    }
    await db?.drop()
  })

  it("writes every key, value schema, value and key-change header as Debezium's connector does", async () => {
    const dbzSlot = uniqueName("dbz_eq_d")
    const oxSlot = uniqueName("dbz_eq_o")
    const connectLog = path.join(workDir, "connect.log")
    writeFileSync(
      path.join(workDir, "worker.properties"),
      javaProperties({
        "bootstrap.servers": kafkaBroker,
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
        "offset.storage.file.filename": path.join(workDir, "connect.offsets"),
        "offset.flush.interval.ms": "1000",
        listeners: `http://127.0.0.1:${await freePort()}`,
        "plugin.discovery": "only_scan"
      })
    )
    for (const set of modeSets) {
      writeFileSync(
        path.join(workDir, `connector-${set.name}.properties`),
        javaProperties({
          name: `${dbzSlot}_${set.name}`,
          "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
          "tasks.max": "1",
          "plugin.name": "pgoutput",
          "database.hostname": "127.0.0.1",
          "database.port": pgPort,
          "database.user": "postgres",
          "database.password": "",
          "database.dbname": db.name,
          "topic.prefix": `dbz.${dbzSlot}.${set.name}`,
          "table.include.list": "public.t",
          "slot.name": `${dbzSlot}_${set.name}`,
          "publication.name": `${dbzSlot}_${set.name}`,
          "publication.autocreate.mode": "filtered",
          ...set.connector
        })
      )
    }
    writeFileSync(
      path.join(workDir, "log4j2.properties"),
      [
        "status = warn",
        "appender.file.type = File",
        "appender.file.name = file",
        `appender.file.fileName = ${connectLog}`,
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d] %p %m (%c)%n",
        "rootLogger.level = warn",
        "rootLogger.appenderRef.file.ref = file",
        "logger.debezium.name = io.debezium",
        "logger.debezium.level = info"
      ].join("\n") + "\n"
    )
    const classpath = readdirSync(connectLib).filter((f) => f.endsWith(".jar")).map((f) => path.join(connectLib, f)).join(path.delimiter)
    const out = openSync(path.join(workDir, "connect.out"), "a")
    connect = spawn("java", [
      "-Xmx512m",
      `-Dlog4j2.configurationFile=${path.join(workDir, "log4j2.properties")}`,
      "-cp",
      classpath,
      "org.apache.kafka.connect.cli.ConnectStandalone",
      path.join(workDir, "worker.properties"),
      ...modeSets.map((set) => path.join(workDir, `connector-${set.name}.properties`))
    ], { stdio: ["ignore", out, out] })

    const oxConfig = path.join(workDir, "ox.toml")
    const oxTopic = (set: ModeSet) => `ox.${oxSlot}.${set.name}.public.t`
    writeFileSync(
      oxConfig,
      `
[postgres]
url = "${db.url}"
slot = "${oxSlot}"
publication = "${oxSlot}"
status_interval = "1s"
[kafka]
brokers = ["${kafkaBroker}"]
[state]
dir = "${path.join(workDir, "ox-state")}"
[http]
listen = ""
${modeSets.map((set) => `
[[streams]]
name = "${set.name}"
tables = ["public.t"]
topic = "${oxTopic(set)}"
format = "debezium"
${set.outboxx.replace("TRANSACTION_TOPIC", `ox.${oxSlot}.${set.name}.transaction`).replace("MESSAGES_TOPIC", `ox.${oxSlot}.${set.name}.message`)}
`).join("")}`
    )
    const cli = spawnCli(["run", "-c", oxConfig])
    try {
      await cli.waitForLine(/streaming slot/, 60_000)
      const deadline = Date.now() + 120_000
      while (!(existsSync(connectLog) && readFileSync(connectLog, "utf8").split("Processing messages").length > modeSets.length)) {
        if (connect.exitCode !== null) throw new Error(`Kafka Connect exited (${connect.exitCode}); see ${workDir}`)
        if (Date.now() > deadline) throw new Error(`Debezium did not start streaming; see ${connectLog}`)
        await new Promise((r) => setTimeout(r, 500))
      }
      await pgQuery(db.url, changes)
      const expected = 10 // 2 inserts, 1 update, key change (delete, tombstone, create), 2 deletes (+ tombstones)
      const reports: Record<string, Array<string>> = {}
      for (const set of modeSets) {
        const dbz = (await readTopic(`dbz.${dbzSlot}.${set.name}.public.t`, { count: expected, timeoutMs: 60_000 })).map(parse)
        const ox = (await readTopic(oxTopic(set), { count: expected, timeoutMs: 60_000 })).map(parse)
        expect(dbz).toHaveLength(expected)
        expect(ox).toHaveLength(expected)
        const prefixes = [`dbz.${dbzSlot}.${set.name}`, `ox.${oxSlot}.${set.name}`] as const
        reports[set.name] = dbz.flatMap((d, i) => differences(d, ox[i]!, i === 0, prefixes).map((line) => `event ${i}: ${line}`))
        if (set.name === "transactions") {
          // The statements ran as one transaction: its BEGIN and END, with Debezium's ids and counts.
          const dbzTx = (await readTopic(`dbz.${dbzSlot}.${set.name}.transaction`, { count: 2, timeoutMs: 60_000 })).map(parse)
          const oxTx = (await readTopic(`ox.${oxSlot}.${set.name}.transaction`, { count: 2, timeoutMs: 60_000 })).map(parse)
          expect(oxTx).toHaveLength(2)
          expect(oxTx.map((e) => e.value!.payload.status)).toEqual(["BEGIN", "END"])
          reports[set.name]!.push(...dbzTx.flatMap((d, i) => differences(d, oxTx[i]!, false, prefixes).map((line) => `transaction event ${i}: ${line}`)))
          // Logical decoding messages: a transactional one (inside a transaction with a change) and a non-transactional one.
          await pgQuery(db.url, `BEGIN; INSERT INTO t (id) VALUES (9); SELECT pg_logical_emit_message(true, 'audit.login', 'user 7');
            SELECT pg_logical_emit_message(true, 'other', 'not forwarded'); COMMIT`)
          await pgQuery(db.url, `SELECT pg_logical_emit_message(false, 'audit.raw', '\\x00ff'::bytea)`)
          const dbzMessages = (await readTopic(`dbz.${dbzSlot}.${set.name}.message`, { count: 2, timeoutMs: 60_000 })).map(parse)
          const oxMessages = (await readTopic(`ox.${oxSlot}.${set.name}.message`, { count: 2, timeoutMs: 60_000 })).map(parse)
          expect(dbzMessages).toHaveLength(2)
          expect(oxMessages).toHaveLength(2)
          reports[set.name]!.push(...dbzMessages.flatMap((d, i) => differences(d, oxMessages[i]!, false, prefixes).map((line) => `message event ${i}: ${line}`)))
          // The transactional message counts in its transaction's metadata. Debezium names its collection
          // with a Java object hash that changes per run, and lists the collections in hash order, which
          // changes with it: compared without the hash, and as a set.
          const normalized = (e: Parsed): Parsed => {
            const copy = JSON.parse(JSON.stringify(e).replace(/(LogicalDecodingMessageId)@[0-9a-f]+/g, "$1")) as Parsed
            const collections = copy.value?.payload.data_collections as Array<{ data_collection: string }> | null | undefined
            collections?.sort((a, b) => a.data_collection.localeCompare(b.data_collection))
            return copy
          }
          const dbzAll = (await readTopic(`dbz.${dbzSlot}.${set.name}.transaction`, { count: 4, timeoutMs: 60_000 })).map(parse).map(normalized)
          const oxAll = (await readTopic(`ox.${oxSlot}.${set.name}.transaction`, { count: 4, timeoutMs: 60_000 })).map(parse).map(normalized)
          expect(oxAll).toHaveLength(4)
          reports[set.name]!.push(...dbzAll.slice(2).flatMap((d, i) => differences(d, oxAll[i + 2]!, false, prefixes).map((line) => `transaction event ${i + 2}: ${line}`)))
        }
        if (set.name === "defaults") {
          // A two-dimensional array is one null per sub-array on both sides (Debezium's schema is one-dimensional).
          expect(dbz[0]!.value!.payload.after).toMatchObject({ c_int_arr2: [null, null] })
          expect(ox[0]!.value!.payload.after).toMatchObject({ c_int_arr2: [null, null] })
          // The key change carries Debezium's headers on both sides.
          expect(ox.map((e) => Object.keys(e.headers)).flat()).toEqual(["__debezium.newkey", "__debezium.newkey", "__debezium.oldkey"])
        }
      }
      expect(reports).toEqual(Object.fromEntries(modeSets.map((set) => [set.name, []])))
    } finally {
      await cli.stop()
    }
  }, 300_000)
})
