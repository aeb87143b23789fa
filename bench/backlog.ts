/**
 * The WAL backlog every drain reader consumes: a fresh database, one table of
 * ~150-byte rows (int8, numeric, text, jsonb, timestamptz) with REPLICA
 * IDENTITY FULL, a publication, and a TEMPLATE pgoutput slot created BEFORE
 * the writes. The changes (80% inserts, 15% updates, 5% deletes) are generated
 * server-side in transactions of `batch` rows, so building 1,000,000 changes
 * takes seconds and the client is never the bottleneck.
 *
 * Readers never consume the template: each gets its own copy
 * (pg_copy_logical_replication_slot), which starts at the template's position.
 */
import { BENCH_DB, connect, quoteIdent, quoteLiteral, withClient } from "./lib/servers.js"

export const TABLE = "bench_rows"
export const PUBLICATION = "bench_pub"
export const TEMPLATE_SLOT = "bench_template"

export interface Backlog {
  readonly database: string
  readonly table: string
  readonly publication: string
  readonly templateSlot: string
  readonly changes: number
  readonly inserts: number
  readonly updates: number
  readonly deletes: number
  /** pg_current_wal_insert_lsn() after the last write (not pg_current_wal_lsn(): with
   *  synchronous_commit=off the last commits may not be written yet): every reader drains up to here. */
  readonly endLsn: string
  readonly buildSeconds: number
}

export const splitChanges = (changes: number): { inserts: number; updates: number; deletes: number } => {
  const updates = Math.floor(changes * 0.15)
  const deletes = Math.floor(changes * 0.05)
  return { inserts: changes - updates - deletes, updates, deletes }
}

/** The row shape, shared with the latency table: ~150 bytes of payload. */
export const tableDdl = (table: string): string => `
  CREATE TABLE ${quoteIdent(table)} (
    id         int8 PRIMARY KEY,
    amount     numeric(14, 2) NOT NULL,
    note       text NOT NULL,
    attrs      jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  ALTER TABLE ${quoteIdent(table)} REPLICA IDENTITY FULL;`

/** SELECT list producing a row for id `g` (a generate_series column). */
export const rowSelect = (g: string): string => `
  ${g},
  round((${g} % 100000) * 1.37, 2),
  'order ' || ${g} || ' for customer ' || (${g} % 9973) || ' shipped by ground, ref ' || md5(${g}::text),
  jsonb_build_object('sku', 'SKU-' || (${g} % 5000), 'qty', ${g} % 7 + 1, 'tags', jsonb_build_array('a', 'b')),
  clock_timestamp()`

const readMeta = async (): Promise<Backlog | undefined> => {
  try {
    return await withClient(BENCH_DB, async (client) => {
      const rows = await client.query<{ meta: Backlog }>("SELECT meta FROM bench_meta")
      const slot = await client.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [TEMPLATE_SLOT])
      return rows.rows.length === 1 && slot.rows.length === 1 ? rows.rows[0]!.meta : undefined
    })
  } catch {
    return undefined
  }
}

/** Drops the bench database and every slot in it (slots would block the drop). */
export const dropBenchDatabase = async (): Promise<void> => {
  await withClient("postgres", async (client) => {
    const slots = await client.query<{ slot_name: string; active_pid: number | null }>(
      "SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1",
      [BENCH_DB]
    )
    for (const slot of slots.rows) {
      if (slot.active_pid !== null) await client.query("SELECT pg_terminate_backend($1)", [slot.active_pid])
      await client.query("SELECT pg_drop_replication_slot($1)", [slot.slot_name])
    }
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(BENCH_DB)} WITH (FORCE)`)
  })
}

/**
 * Builds the backlog, or reuses the one already there when it has the same
 * number of changes (and its template slot) unless `rebuild`.
 */
export const ensureBacklog = async (
  options: { readonly changes: number; readonly batch: number; readonly rebuild: boolean },
  log: (line: string) => void
): Promise<Backlog> => {
  if (!options.rebuild) {
    const existing = await readMeta()
    if (existing && existing.changes === options.changes) {
      log(`reusing the backlog of ${existing.changes} changes in ${BENCH_DB} (end LSN ${existing.endLsn}); --rebuild to redo it`)
      return existing
    }
  }
  const started = performance.now()
  await dropBenchDatabase()
  await withClient("postgres", (client) => client.query(`CREATE DATABASE ${quoteIdent(BENCH_DB)}`))
  const client = await connect(BENCH_DB)
  try {
    // The dev cluster defaults to synchronous_commit=off; decoding stops at the
    // flushed WAL, so each commit here is flushed (as on a production server).
    await client.query("SET synchronous_commit = on")
    await client.query(tableDdl(TABLE))
    await client.query(`CREATE PUBLICATION ${quoteIdent(PUBLICATION)} FOR TABLE ${quoteIdent(TABLE)}`)
    await client.query("CREATE TABLE bench_meta (meta jsonb NOT NULL)")
    // Created before any write: every change below is behind this slot.
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [TEMPLATE_SLOT])
    const { inserts, updates, deletes } = splitChanges(options.changes)
    log(`building the backlog: ${inserts} inserts, ${updates} updates, ${deletes} deletes in transactions of ${options.batch}`)
    const t = quoteIdent(TABLE)
    // Inserts: ids 1..inserts.
    for (let from = 1; from <= inserts; from += options.batch) {
      const to = Math.min(inserts, from + options.batch - 1)
      await client.query(`INSERT INTO ${t} SELECT ${rowSelect("g")} FROM generate_series(${from}, ${to}) AS g`)
    }
    // Updates: ids 1..updates (the oldest rows), two columns change.
    for (let from = 1; from <= updates; from += options.batch) {
      const to = Math.min(updates, from + options.batch - 1)
      await client.query(
        `UPDATE ${t} SET amount = amount + 1, attrs = attrs || '{"updated":true}', created_at = clock_timestamp() WHERE id BETWEEN ${from} AND ${to}`
      )
    }
    // Deletes: the newest rows, never the updated ones.
    for (let to = inserts; to > inserts - deletes; to -= options.batch) {
      const from = Math.max(inserts - deletes + 1, to - options.batch + 1)
      await client.query(`DELETE FROM ${t} WHERE id BETWEEN ${from} AND ${to}`)
    }
    const end = await client.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")
    const backlog: Backlog = {
      database: BENCH_DB,
      table: TABLE,
      publication: PUBLICATION,
      templateSlot: TEMPLATE_SLOT,
      changes: options.changes,
      inserts,
      updates,
      deletes,
      endLsn: end.rows[0]!.lsn,
      buildSeconds: (performance.now() - started) / 1000
    }
    await client.query(`INSERT INTO bench_meta VALUES (${quoteLiteral(JSON.stringify(backlog))}::jsonb)`)
    log(`backlog built in ${backlog.buildSeconds.toFixed(1)} s, end LSN ${backlog.endLsn}`)
    return backlog
  } finally {
    await client.end()
  }
}

/** A reader's own copy of the template slot (same start position). */
export const copySlot = async (backlog: Pick<Backlog, "database" | "templateSlot">, copy: string): Promise<void> => {
  await withClient(backlog.database, (client) =>
    client.query("SELECT pg_copy_logical_replication_slot($1, $2)", [backlog.templateSlot, copy])
  )
}

/** Drops a copy, ending whoever still holds it (a reader killed mid-run). */
export const dropSlot = async (database: string, slot: string): Promise<void> => {
  await withClient(database, async (client) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const rows = await client.query<{ active_pid: number | null }>(
        "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
        [slot]
      )
      if (rows.rows.length === 0) return
      const activePid = rows.rows[0]!.active_pid
      if (activePid === null) {
        await client.query("SELECT pg_drop_replication_slot($1)", [slot])
        return
      }
      await client.query("SELECT pg_terminate_backend($1)", [activePid])
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  })
}
