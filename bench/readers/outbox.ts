/**
 * The transactional outbox beside change events: `outboxx run` draining a
 * backlog of outbox events into Kafka, the two ways applications publish.
 *
 * outboxx_publish: `outboxx.publish(...)` messages (WAL only, each signed),
 * delivered to the topic they name ([outbox] topics allows it).
 * outboxx_outbox_table: rows inserted into a Debezium-layout outbox table
 * (kind = "outbox"), routed by `aggregatetype`.
 *
 * Both read their own backlog in database `outboxx_bench_outbox` (built once
 * and reused, like the change backlog): `events` of each, in transactions of
 * 1,000, each event about the size of a change row (a JSON payload of
 * ~150 bytes, a key, a header), behind a template slot each run copies.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { copySlot, dropSlot } from "../backlog.js"
import { drainIntoTopic } from "../lib/drain.js"
import { createTopic, deleteTopics, kafkaBroker, pgUrl, quoteIdent, quoteLiteral, repoRoot, withAdmin, withClient } from "../lib/servers.js"
import { outboxxMain, startOutboxx } from "./outboxx.js"
import type { ReaderContext, ReaderResult } from "./types.js"

export const OUTBOX_DB = "outboxx_bench_outbox"
const TEMPLATE_SLOT = "bench_outbox_template"
/** One publication per reader: each decodes only its own part of the backlog. */
const PUBLICATIONS = { publish: "bench_outbox_pub_publish", table: "bench_outbox_pub_table" } as const
/** Fixed names: the WAL messages name their topic, and the table's rows their aggregate type. */
export const PUBLISH_TOPIC = "bench_outbox_publish"
export const TABLE_TOPIC = "bench_outbox_table.order"

interface OutboxBacklog {
  readonly events: number
  readonly endLsn: string
  readonly buildSeconds: number
}

const payload = (g: string) =>
  `jsonb_build_object('orderId', ${g}, 'sku', 'SKU-' || (${g} % 5000), 'qty', ${g} % 7 + 1, ` +
  `'note', 'order ' || ${g} || ' for customer ' || (${g} % 9973) || ' shipped by ground, ref ' || md5(${g}::text))`

const readMeta = (): Promise<OutboxBacklog | undefined> =>
  withClient(OUTBOX_DB, async (client) => {
    const rows = await client.query<{ meta: OutboxBacklog }>("SELECT meta FROM bench_meta")
    const slot = await client.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [TEMPLATE_SLOT])
    return rows.rows.length === 1 && slot.rows.length === 1 ? rows.rows[0]!.meta : undefined
  }).catch(() => undefined)

/** The outbox backlog of `events` publish messages and `events` outbox rows, built once and reused. */
export const ensureOutboxBacklog = async (events: number, log: (line: string) => void): Promise<OutboxBacklog> => {
  const existing = await readMeta()
  if (existing !== undefined && existing.events === events) {
    log(`reusing the outbox backlog of ${events} + ${events} events in ${OUTBOX_DB} (end LSN ${existing.endLsn})`)
    return existing
  }
  const started = performance.now()
  await withClient("postgres", async (client) => {
    const slots = await client.query<{ slot_name: string }>("SELECT slot_name FROM pg_replication_slots WHERE database = $1", [OUTBOX_DB])
    for (const slot of slots.rows) await client.query("SELECT pg_drop_replication_slot($1)", [slot.slot_name])
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(OUTBOX_DB)} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${quoteIdent(OUTBOX_DB)}`)
  })
  // The functions as users install them: the built CLI's `outbox install`.
  const config = path.join(fs.mkdtempSync(path.join(repoRoot, "bench", "work-outbox-")), "install.toml")
  fs.writeFileSync(config, `[postgres]\nurl = "${pgUrl(OUTBOX_DB)}"\n[kafka]\nbrokers = ["${kafkaBroker}"]\n[[streams]]\nname = "x"\ntables = ["orders"]\n`)
  try {
    execFileSync(process.execPath, [outboxxMain, "outbox", "install", "-c", config], { stdio: "pipe" })
  } finally {
    fs.rmSync(path.dirname(config), { recursive: true, force: true })
  }
  return withClient(OUTBOX_DB, async (client) => {
    await client.query("SET synchronous_commit = on")
    await client.query(`CREATE TABLE orders (id int8 PRIMARY KEY);
      CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL, payload jsonb);
      CREATE PUBLICATION ${quoteIdent(PUBLICATIONS.publish)} FOR TABLE orders;
      CREATE PUBLICATION ${quoteIdent(PUBLICATIONS.table)} FOR TABLE outbox;
      CREATE TABLE bench_meta (meta jsonb NOT NULL)`)
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [TEMPLATE_SLOT])
    log(`building the outbox backlog: ${events} outboxx.publish messages and ${events} outbox rows in transactions of 1000`)
    for (let from = 1; from <= events; from += 1000) {
      const to = Math.min(events, from + 999)
      await client.query(
        `SELECT count(outboxx.publish(${quoteLiteral(PUBLISH_TOPIC)}, 'order-' || g, ${payload("g")}, ` +
          `jsonb_build_object('id', 'e-' || g, 'type', 'OrderPlaced'))) FROM generate_series(${from}, ${to}) AS g`
      )
    }
    for (let from = 1; from <= events; from += 1000) {
      const to = Math.min(events, from + 999)
      await client.query(
        `INSERT INTO outbox SELECT md5(g::text)::uuid, 'order', 'order-' || g, 'OrderPlaced', ${payload("g")} FROM generate_series(${from}, ${to}) AS g`
      )
    }
    const end = await client.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")
    const backlog: OutboxBacklog = { events, endLsn: end.rows[0]!.lsn, buildSeconds: (performance.now() - started) / 1000 }
    await client.query(`INSERT INTO bench_meta VALUES (${quoteLiteral(JSON.stringify(backlog))}::jsonb)`)
    log(`outbox backlog built in ${backlog.buildSeconds.toFixed(1)} s, end LSN ${backlog.endLsn}`)
    return backlog
  })
}

const config = (kind: "publish" | "table", slot: string, stateDir: string, streams: string): string => `# Generated by bench/: the outbox backlog, an existing slot copy.
[postgres]
url = "${pgUrl(OUTBOX_DB)}"
slot = "${slot}"
publication = "${PUBLICATIONS[kind]}"
publication_mode = "existing"
snapshot = "never"

[kafka]
brokers = ["${kafkaBroker}"]
client_id = "outboxx-bench"
# The dead-letter topics (empty) are created once; the measured topic is fresh each run.
create_topics = true

[state]
dir = "${stateDir}"

[http]
listen = ""

[log]
level = "warn"

${streams}`

const outboxReader = (kind: "publish" | "table") => async (context: ReaderContext): Promise<ReaderResult> => {
  const reader = kind === "publish" ? "outboxx_publish" as const : "outboxx_outbox_table" as const
  const backlog = await ensureOutboxBacklog(context.outboxEvents, context.log)
  const topic = kind === "publish" ? PUBLISH_TOPIC : TABLE_TOPIC
  await withAdmin(async (admin) => {
    await deleteTopics(admin, [topic]).catch(() => undefined)
    await createTopic(admin, topic)
  })
  const slot = context.slot
  await copySlot({ database: OUTBOX_DB, templateSlot: TEMPLATE_SLOT }, slot)
  try {
    const streams = kind === "publish"
      ? `[outbox]\ntopics = ["${PUBLISH_TOPIC}"]\n\n[[streams]]\nname = "orders"\ntables = ["public.orders"]\ntopic = "bench_outbox_orders"\n`
      : `[[streams]]\nname = "events"\nkind = "outbox"\ntables = ["public.outbox"]\ntopic = "bench_outbox_table.{aggregatetype}"\n` +
        `[streams.outbox]\nheaders = ["type"]\n`
    const result = await drainIntoTopic({
      what: reader,
      topic,
      expected: backlog.events,
      timeoutMs: context.timeoutMs,
      start: () => startOutboxx(context.workDir, config(kind, slot, path.join(context.workDir, "state"), streams), context.timeoutMs + 60_000)
    })
    return { reader, expected: backlog.events, ...result }
  } finally {
    await dropSlot(OUTBOX_DB, slot).catch(() => undefined)
    await withAdmin((admin) => deleteTopics(admin, [topic])).catch(() => undefined)
  }
}

export const outboxxPublish = outboxReader("publish")
export const outboxxOutboxTable = outboxReader("table")
