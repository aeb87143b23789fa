/**
 * The tables every snapshot reader copies into Kafka: a database of its own
 * (`outboxx_bench_snap`, so the drain backlog's slot and WAL are untouched)
 * with `snap_rows` (the drain backlog's ~150-byte row shape, `id int8`
 * primary key) and `snap_keyless` (the same columns, no key and no unique
 * index: read by block ranges), each with its own publication. Built
 * server-side once and reused while the row counts match; VACUUM ANALYZE
 * afterwards so the planner's statistics and the visibility map are what a
 * settled production table has.
 */
import { rowSelect } from "./backlog.js"
import { connect, quoteIdent, quoteLiteral, withClient } from "./lib/servers.js"

export const SNAP_DB = "outboxx_bench_snap"

export interface SnapshotTables {
  readonly database: string
  readonly keyed: { readonly table: string; readonly publication: string; readonly rows: number }
  readonly keyless: { readonly table: string; readonly publication: string; readonly rows: number }
  /** On-disk size of the keyed table's heap, bytes (what a reader scans). */
  readonly keyedBytes: number
  readonly buildSeconds: number
}

const columns = `
    amount     numeric(14, 2) NOT NULL,
    note       text NOT NULL,
    attrs      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()`

const readMeta = async (): Promise<SnapshotTables | undefined> => {
  try {
    return await withClient(SNAP_DB, async (client) => {
      const rows = await client.query<{ meta: SnapshotTables }>("SELECT meta FROM snap_meta")
      return rows.rows[0]?.meta
    })
  } catch {
    return undefined
  }
}

/** Slots of this database (a run killed midway leaves its own): dropped, ending their holders. */
export const dropSnapshotSlots = async (): Promise<void> => {
  await withClient("postgres", async (client) => {
    const slots = await client.query<{ slot_name: string; active_pid: number | null }>(
      "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1",
      [SNAP_DB]
    )
    for (const slot of slots.rows) {
      if (slot.active_pid !== null) await client.query("SELECT pg_terminate_backend($1)", [slot.active_pid])
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          await client.query("SELECT pg_drop_replication_slot($1)", [slot.slot_name])
          break
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
    }
  })
}

export const ensureSnapshotTables = async (
  options: { readonly rows: number; readonly keylessRows: number; readonly rebuild: boolean },
  log: (line: string) => void
): Promise<SnapshotTables> => {
  if (!options.rebuild) {
    const existing = await readMeta()
    if (existing && existing.keyed.rows === options.rows && existing.keyless.rows === options.keylessRows) {
      log(`reusing ${SNAP_DB}: ${existing.keyed.rows} keyed rows, ${existing.keyless.rows} keyless rows (--rebuild to redo it)`)
      return existing
    }
  }
  const started = performance.now()
  await dropSnapshotSlots().catch(() => undefined)
  await withClient("postgres", async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(SNAP_DB)} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${quoteIdent(SNAP_DB)}`)
  })
  const client = await connect(SNAP_DB)
  try {
    await client.query(`CREATE TABLE snap_rows (id int8 PRIMARY KEY, ${columns})`)
    await client.query(`CREATE TABLE snap_keyless (id int8 NOT NULL, ${columns})`)
    // No key: its publication's updates need the whole row as identity (outboxx refuses it otherwise).
    await client.query("ALTER TABLE snap_keyless REPLICA IDENTITY FULL")
    await client.query("CREATE PUBLICATION snap_rows_pub FOR TABLE snap_rows")
    await client.query("CREATE PUBLICATION snap_keyless_pub FOR TABLE snap_keyless")
    await client.query("CREATE TABLE snap_meta (meta jsonb NOT NULL)")
    const step = 1_000_000
    for (const [table, rows] of [["snap_rows", options.rows], ["snap_keyless", options.keylessRows]] as const) {
      log(`building ${table}: ${rows} rows`)
      for (let from = 1; from <= rows; from += step) {
        const to = Math.min(rows, from + step - 1)
        await client.query(`INSERT INTO ${table} SELECT ${rowSelect("g")} FROM generate_series(${from}, ${to}) AS g`)
      }
      await client.query(`VACUUM (ANALYZE, FREEZE) ${table}`)
    }
    const size = await client.query<{ bytes: string }>("SELECT pg_relation_size('snap_rows')::text AS bytes")
    const meta: SnapshotTables = {
      database: SNAP_DB,
      keyed: { table: "snap_rows", publication: "snap_rows_pub", rows: options.rows },
      keyless: { table: "snap_keyless", publication: "snap_keyless_pub", rows: options.keylessRows },
      keyedBytes: Number(size.rows[0]!.bytes),
      buildSeconds: (performance.now() - started) / 1000
    }
    await client.query(`INSERT INTO snap_meta VALUES (${quoteLiteral(JSON.stringify(meta))}::jsonb)`)
    log(`snapshot tables built in ${meta.buildSeconds.toFixed(1)} s (snap_rows heap ${(meta.keyedBytes / 1e6).toFixed(0)} MB)`)
    return meta
  } finally {
    await client.end()
  }
}
