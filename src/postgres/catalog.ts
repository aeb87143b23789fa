/**
 * Catalog queries shared by `check`, `status`, `slot drop` and publication
 * management. All SQL is built with the quoting helpers and sent without bind
 * parameters, so every query here also works on a walsender connection.
 */
import * as Effect from "effect/Effect"
import type pg from "pg"
import type { TableRef } from "../config/model.js"
import { type PostgresError, queryRows } from "./Postgres.js"
import { quoteLiteral } from "./quote.js"

export type Queryable = pg.Client | pg.Pool

const one = <R extends object>(client: Queryable, sql: string): Effect.Effect<R | undefined, PostgresError> =>
  Effect.map(queryRows<R>(client, sql), (rows) => rows[0])

// ---------------------------------------------------------------------------
// Server

export interface ServerInfo {
  /** e.g. 150004 */
  readonly versionNum: number
  /** e.g. "15.4 (Debian 15.4-1)" */
  readonly version: string
  readonly database: string
  readonly user: string
  readonly walLevel: string
  readonly maxReplicationSlots: number
  readonly maxWalSenders: number
  readonly isSuperuser: boolean
  readonly hasReplication: boolean
  readonly canCreateInDatabase: boolean
  readonly inRecovery: boolean
}

export const serverInfo = (client: Queryable): Effect.Effect<ServerInfo, PostgresError> =>
  Effect.map(
    one<{
      version_num: string
      version: string
      database: string
      user: string
      wal_level: string
      max_replication_slots: string
      max_wal_senders: string
      rolsuper: boolean | null
      rolreplication: boolean | null
      can_create: boolean
      in_recovery: boolean
    }>(
      client,
      `SELECT current_setting('server_version_num') AS version_num,
              current_setting('server_version') AS version,
              current_database() AS database,
              current_user AS "user",
              current_setting('wal_level') AS wal_level,
              current_setting('max_replication_slots') AS max_replication_slots,
              current_setting('max_wal_senders') AS max_wal_senders,
              r.rolsuper, r.rolreplication,
              has_database_privilege(current_database(), 'CREATE') AS can_create,
              pg_is_in_recovery() AS in_recovery
         FROM (SELECT 1) AS one
         LEFT JOIN pg_roles r ON r.rolname = current_user`
    ),
    (row) => ({
      versionNum: Number(row?.version_num ?? 0),
      version: row?.version ?? "",
      database: row?.database ?? "",
      user: row?.user ?? "",
      walLevel: row?.wal_level ?? "",
      maxReplicationSlots: Number(row?.max_replication_slots ?? 0),
      maxWalSenders: Number(row?.max_wal_senders ?? 0),
      isSuperuser: row?.rolsuper === true,
      hasReplication: row?.rolreplication === true,
      canCreateInDatabase: row?.can_create === true,
      inRecovery: row?.in_recovery === true
    })
  )

/** The pgoutput `proto_version` a server of this version speaks best (14 → 2, 15 → 3, 16+ → 4). */
export const pgoutputProtocolFor = (versionNum: number): number =>
  versionNum >= 160000 ? 4 : versionNum >= 150000 ? 3 : versionNum >= 140000 ? 2 : 1

/** "15.4" from 150004; "9.6.24" style is not supported anyway. */
export const majorVersion = (versionNum: number): number => Math.floor(versionNum / 10000)

export interface ReplicationUsage {
  readonly slotsUsed: number
  readonly walSendersActive: number
}

export const replicationUsage = (client: Queryable): Effect.Effect<ReplicationUsage, PostgresError> =>
  Effect.map(
    one<{ slots: string; senders: string }>(
      client,
      `SELECT (SELECT count(*) FROM pg_replication_slots) AS slots,
              (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender') AS senders`
    ),
    (row) => ({ slotsUsed: Number(row?.slots ?? 0), walSendersActive: Number(row?.senders ?? 0) })
  )

// ---------------------------------------------------------------------------
// Slots

export interface SlotInfo {
  readonly name: string
  readonly plugin: string | null
  readonly slotType: string
  readonly database: string | null
  readonly active: boolean
  readonly activePid: number | null
  readonly confirmedFlushLsn: string | null
  readonly restartLsn: string | null
  /** pg_current_wal_lsn() - restart_lsn: WAL the server keeps for this slot. */
  readonly retainedBytes: number | null
  /** pg_current_wal_lsn() - confirmed_flush_lsn. */
  readonly lagBytes: number | null
  /** "reserved" | "extended" | "unreserved" | "lost" (PostgreSQL 13+). */
  readonly walStatus: string | null
  /** Bytes of WAL that can still be written before the slot is in danger (max_slot_wal_keep_size); null = unlimited. */
  readonly safeWalSize: number | null
  readonly currentWalLsn: string | null
  /** A failover slot (PostgreSQL 17+: synchronised to standbys with sync_replication_slots); undefined before 17. */
  readonly failover: boolean | undefined
}

/**
 * Why an existing slot cannot be ours, with the fix; undefined when it can.
 * The one judgement of a slot row: `run` refuses with it, `check` reports it.
 */
export const unusableSlot = (
  slot: SlotInfo,
  database: string
): { readonly reason: string; readonly fix: string } | undefined => {
  if (slot.slotType !== "logical" || slot.plugin !== "pgoutput") {
    return {
      reason: `exists as ${slot.slotType === "logical" ? `a logical slot with plugin ${slot.plugin ?? "none"}` : `a ${slot.slotType} slot`}; ` +
        `outboxx needs a logical pgoutput slot`,
      fix: `use another postgres.slot name, or drop it: SELECT pg_drop_replication_slot(${quoteLiteral(slot.name)})`
    }
  }
  if (slot.database !== database) {
    return {
      reason: `belongs to database "${slot.database ?? ""}", not "${database}"`,
      fix: "use another postgres.slot name (slot names are cluster-wide)"
    }
  }
  if (slot.walStatus === "lost") {
    return {
      reason: "has lost WAL it needed (wal_status = lost); changes were missed",
      fix: "outboxx slot drop --yes, then run again (it re-snapshots)"
    }
  }
  return undefined
}

/** Whether the server is a standby (in recovery, read-only): decoding on a standby, or a failover in progress. */
export const isStandby = (client: Queryable): Effect.Effect<boolean, PostgresError> =>
  Effect.map(one<{ standby: boolean }>(client, "SELECT pg_is_in_recovery() AS standby"), (row) => row?.standby === true)

/** The server's WAL position: pg_current_wal_lsn(), or the last replayed LSN on a standby server. */
export const currentWalLsn = (client: Queryable): Effect.Effect<string | undefined, PostgresError> =>
  Effect.map(
    one<{ lsn: string | null }>(
      client,
      "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn"
    ),
    (row) => row?.lsn ?? undefined
  )

export const slotInfo = (client: Queryable, slot: string): Effect.Effect<SlotInfo | undefined, PostgresError> =>
  Effect.map(
    one<{
      slot_name: string
      plugin: string | null
      slot_type: string
      database: string | null
      active: boolean
      active_pid: number | null
      confirmed_flush_lsn: string | null
      restart_lsn: string | null
      retained_bytes: string | null
      lag_bytes: string | null
      wal_status: string | null
      safe_wal_size: string | null
      current_wal_lsn: string | null
      failover: string | null
    }>(
      client,
      `SELECT slot_name, plugin, slot_type, database, active, active_pid,
              confirmed_flush_lsn::text AS confirmed_flush_lsn, restart_lsn::text AS restart_lsn,
              pg_wal_lsn_diff(w.lsn, restart_lsn)::text AS retained_bytes,
              pg_wal_lsn_diff(w.lsn, confirmed_flush_lsn)::text AS lag_bytes,
              wal_status, safe_wal_size::text AS safe_wal_size, w.lsn::text AS current_wal_lsn,
              to_jsonb(s) ->> 'failover' AS failover
         FROM pg_replication_slots s,
              (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS lsn) AS w
        WHERE slot_name = ${quoteLiteral(slot)}`
    ),
    (row) =>
      row === undefined ? undefined : {
        name: row.slot_name,
        plugin: row.plugin,
        slotType: row.slot_type,
        database: row.database,
        active: row.active,
        activePid: row.active_pid,
        confirmedFlushLsn: row.confirmed_flush_lsn,
        restartLsn: row.restart_lsn,
        retainedBytes: row.retained_bytes === null ? null : Number(row.retained_bytes),
        lagBytes: row.lag_bytes === null ? null : Number(row.lag_bytes),
        walStatus: row.wal_status,
        safeWalSize: row.safe_wal_size === null ? null : Number(row.safe_wal_size),
        currentWalLsn: row.current_wal_lsn,
        failover: row.failover === null ? undefined : row.failover === "true"
      }
  )

// ---------------------------------------------------------------------------
// Tables

/** relreplident: d = default (primary key), n = nothing, f = full, i = index. */
export type ReplicaIdentity = "default" | "nothing" | "full" | "index"

const replicaIdentities: Record<string, ReplicaIdentity> = { d: "default", n: "nothing", f: "full", i: "index" }

export interface TableInfo {
  readonly schema: string
  readonly name: string
  readonly oid: number
  /** r = table, p = partitioned table, v = view, ... */
  readonly kind: string
  readonly replicaIdentity: ReplicaIdentity
  readonly columns: ReadonlyArray<string>
  readonly primaryKey: ReadonlyArray<string>
  /** The columns of the REPLICA IDENTITY USING INDEX index, when that is the identity. */
  readonly identityIndex: ReadonlyArray<string>
  /** The current role owns the table (or is a member of the owning role). */
  readonly ownedByCurrentUser: boolean
  /** Generated columns: logical replication does not send them (docs/formats.md). */
  readonly generated: ReadonlyArray<string>
}

interface TableRow {
  oid: number
  nspname: string
  relname: string
  relkind: string
  relreplident: string
  owned: boolean
  columns: Array<string> | null
  pk: Array<string> | null
  ident: Array<string> | null
  generated: Array<string> | null
}

const tableSelect = `SELECT c.oid::int AS oid, n.nspname, c.relname, c.relkind::text AS relkind, c.relreplident::text AS relreplident,
         pg_has_role(c.relowner, 'USAGE') AS owned,
         ARRAY(SELECT a.attname::text FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
         ARRAY(SELECT a.attname::text FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)) AS pk,
         ARRAY(SELECT a.attname::text FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = c.oid AND i.indisreplident ORDER BY array_position(i.indkey::int2[], a.attnum)) AS ident,
         ARRAY(SELECT a.attname::text FROM pg_attribute a
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''
                ORDER BY a.attnum) AS generated
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace`

const toTableInfo = (row: TableRow): TableInfo => ({
  schema: row.nspname,
  name: row.relname,
  oid: row.oid,
  kind: row.relkind,
  replicaIdentity: replicaIdentities[row.relreplident] ?? "default",
  columns: row.columns ?? [],
  primaryKey: row.pk ?? [],
  identityIndex: row.ident ?? [],
  ownedByCurrentUser: row.owned,
  generated: row.generated ?? []
})

/** The table with exactly this schema and name, or undefined. */
export const tableInfo = (client: Queryable, table: TableRef): Effect.Effect<TableInfo | undefined, PostgresError> =>
  Effect.map(
    one<TableRow>(
      client,
      `${tableSelect} WHERE n.nspname = ${quoteLiteral(table.schema)} AND c.relname = ${quoteLiteral(table.name)}
         AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`
    ),
    (row) => (row === undefined ? undefined : toTableInfo(row))
  )

/** Tables whose name matches ignoring case: the usual cause of "table not found" (`Orders` vs `orders`). */
export const tablesLike = (client: Queryable, table: TableRef): Effect.Effect<ReadonlyArray<TableRef>, PostgresError> =>
  Effect.map(
    queryRows<{ nspname: string; relname: string }>(
      client,
      `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE lower(n.nspname) = lower(${quoteLiteral(table.schema)}) AND lower(c.relname) = lower(${quoteLiteral(table.name)})
          AND c.relkind IN ('r', 'p')
        ORDER BY 1, 2 LIMIT 5`
    ),
    (rows) => rows.map((r) => ({ schema: r.nspname, name: r.relname }))
  )

/**
 * The columns the server sends as the old row of an update/delete (what
 * `before` can hold), or undefined when it sends none (updates and deletes
 * cannot be captured with their key).
 */
export const identityColumns = (table: TableInfo): ReadonlyArray<string> | undefined => {
  switch (table.replicaIdentity) {
    case "full":
      return table.columns
    case "index":
      return table.identityIndex.length > 0 ? table.identityIndex : undefined
    case "default":
      return table.primaryKey.length > 0 ? table.primaryKey : undefined
    case "nothing":
      return undefined
  }
}

// ---------------------------------------------------------------------------
// Publications

/**
 * The comment marking a publication Outboxx created: `managed by outboxx (slot <slot>)`.
 * The slot is the owner: only that pipeline alters it, and only its `slot drop`
 * drops it. Publications of older versions carry the bare marker (no owner).
 */
export const managedPublicationComment = (slot: string): string => `managed by outboxx (slot ${slot})`
const legacyManagedComment = "managed by outboxx"
const ownedComment = /^managed by outboxx \(slot ([a-z0-9_]{1,63})\)$/

export interface PublicationInfo {
  readonly name: string
  readonly allTables: boolean
  readonly insert: boolean
  readonly update: boolean
  readonly delete: boolean
  readonly truncate: boolean
  /** publish_via_partition_root: changes of partitions are published as their published root. */
  readonly viaRoot: boolean
  readonly comment: string | null
  /** Tables it publishes now (for FOR ALL TABLES: every table). */
  readonly tables: ReadonlyArray<TableRef>
  readonly ownedByCurrentUser: boolean
  /** publish_generated_columns (PostgreSQL 18+): "stored" or "none"; undefined before 18. */
  readonly generatedColumns: "stored" | "none" | undefined
}

/** True when outboxx created this publication. */
export const isManagedPublication = (publication: PublicationInfo): boolean =>
  publication.comment === legacyManagedComment || ownedComment.test(publication.comment ?? "")

/**
 * The slot of the pipeline that owns this managed publication; `null` for one
 * made by an older Outboxx (managed, owner unknown); undefined when not managed.
 */
export const publicationOwner = (publication: PublicationInfo): string | null | undefined => {
  if (publication.comment === legacyManagedComment) return null
  const match = ownedComment.exec(publication.comment ?? "")
  return match === null ? undefined : match[1]!
}

export const publicationInfo = (
  client: Queryable,
  name: string
): Effect.Effect<PublicationInfo | undefined, PostgresError> =>
  Effect.gen(function*() {
    const row = yield* one<{
      puballtables: boolean
      pubinsert: boolean
      pubupdate: boolean
      pubdelete: boolean
      pubtruncate: boolean
      pubviaroot: boolean
      comment: string | null
      owned: boolean
      gencols: string | null
    }>(
      client,
      // pubgencols exists from PostgreSQL 18 on: read through to_jsonb, which any version answers (null before).
      `SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot,
              obj_description(oid, 'pg_publication') AS comment, pg_has_role(pubowner, 'USAGE') AS owned,
              to_jsonb(p) ->> 'pubgencols' AS gencols
         FROM pg_publication p WHERE pubname = ${quoteLiteral(name)}`
    )
    if (row === undefined) return undefined
    const tables = yield* queryRows<{ schemaname: string; tablename: string }>(
      client,
      `SELECT schemaname::text, tablename::text FROM pg_publication_tables
        WHERE pubname = ${quoteLiteral(name)} ORDER BY 1, 2`
    )
    return {
      name,
      allTables: row.puballtables,
      insert: row.pubinsert,
      update: row.pubupdate,
      delete: row.pubdelete,
      truncate: row.pubtruncate,
      viaRoot: row.pubviaroot,
      comment: row.comment,
      tables: tables.map((t) => ({ schema: t.schemaname, name: t.tablename })),
      ownedByCurrentUser: row.owned,
      generatedColumns: row.gencols === null ? undefined : row.gencols === "s" ? "stored" : "none"
    }
  })

// ---------------------------------------------------------------------------
// What capturing a table involves: partitions and replica identities

/** A table (or a leaf partition of it) whose updates/deletes the server cannot send with an old row. */
export interface KeylessLeaf {
  readonly table: TableRef
  readonly replicaIdentity: ReplicaIdentity
}

export interface CaptureFacts {
  readonly table: TableRef
  /** pg_class.relkind: r = table, p = partitioned table, ...; undefined when the table does not exist. */
  readonly kind: string | undefined
  /** Partitioned tables this one is a partition of, nearest first (empty when it is not a partition). */
  readonly ancestors: ReadonlyArray<TableRef>
  /** The columns pgoutput sends, in order (generated columns are not published). */
  readonly columns: ReadonlyArray<string>
  /** `columns`' type OIDs. */
  readonly columnTypes: ReadonlyArray<number>
  /** Tables that INHERIT from this (plain) table: not captured unless configured themselves. */
  readonly inheritors: ReadonlyArray<TableRef>
  /** UNLOGGED: its changes never reach the WAL, so no publication can carry them. */
  readonly unlogged: boolean
  /**
   * The rows' homes (the table itself, or every leaf partition of a
   * partitioned table) that have no usable replica identity: publishing
   * updates or deletes of them makes PostgreSQL reject the application's
   * UPDATE and DELETE there (it checks the leaf the row lives in).
   */
  readonly keyless: ReadonlyArray<KeylessLeaf>
}

/**
 * The SQL condition for a column pgoutput sends: not generated, or (with
 * publish_generated_columns) a stored generated one. Virtual generated
 * columns (PostgreSQL 18) are never published.
 */
export const publishedColumnCondition = (alias: string, generatedColumns: boolean): string =>
  generatedColumns ? `${alias}.attgenerated IN ('', 's')` : `${alias}.attgenerated = ''`

const arrayLiteral = (values: ReadonlyArray<string>): string =>
  `ARRAY[${values.map(quoteLiteral).join(", ")}]::text[]`

/**
 * Partition and replica-identity facts of `tables`, in two queries however
 * many tables there are (a 1,000-table config starts as fast as a 1-table one).
 */
export const captureFacts = (
  client: Queryable,
  tables: ReadonlyArray<TableRef>,
  /** Stored generated columns are published (postgres.publish_generated_columns): count them among the columns. */
  generatedColumns = false
): Effect.Effect<ReadonlyArray<CaptureFacts>, PostgresError> =>
  Effect.gen(function*() {
    if (tables.length === 0) return []
    const classes = yield* queryRows<{
      ord: string
      oid: string | null
      relkind: string | null
      anc_schemas: Array<string> | null
      anc_names: Array<string> | null
      columns: Array<string> | null
      column_types: Array<number> | null
      inh_schemas: Array<string> | null
      inh_names: Array<string> | null
      unlogged: boolean | null
    }>(
      client,
      `SELECT t.ord::text, c.oid::int8::text AS oid, c.relkind::text AS relkind, c.relpersistence = 'u' AS unlogged,
              ARRAY(SELECT an.nspname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, n)
                      JOIN pg_class ac ON ac.oid = a.relid JOIN pg_namespace an ON an.oid = ac.relnamespace
                     WHERE a.relid <> c.oid ORDER BY a.n) AS anc_schemas,
              ARRAY(SELECT ac.relname::text FROM pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, n)
                      JOIN pg_class ac ON ac.oid = a.relid
                     WHERE a.relid <> c.oid ORDER BY a.n) AS anc_names,
              ARRAY(SELECT a.attname::text FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND ${publishedColumnCondition("a", generatedColumns)}
                     ORDER BY a.attnum) AS columns,
              ARRAY(SELECT a.atttypid::int FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND ${publishedColumnCondition("a", generatedColumns)}
                     ORDER BY a.attnum) AS column_types,
              ARRAY(SELECT hn.nspname::text FROM pg_inherits h JOIN pg_class hc ON hc.oid = h.inhrelid
                      JOIN pg_namespace hn ON hn.oid = hc.relnamespace
                     WHERE h.inhparent = c.oid AND c.relkind = 'r' ORDER BY hn.nspname, hc.relname) AS inh_schemas,
              ARRAY(SELECT hc.relname::text FROM pg_inherits h JOIN pg_class hc ON hc.oid = h.inhrelid
                      JOIN pg_namespace hn ON hn.oid = hc.relnamespace
                     WHERE h.inhparent = c.oid AND c.relkind = 'r' ORDER BY hn.nspname, hc.relname) AS inh_names
         FROM unnest(${arrayLiteral(tables.map((t) => t.schema))}, ${arrayLiteral(tables.map((t) => t.name))})
              WITH ORDINALITY AS t(schema, name, ord)
         LEFT JOIN pg_namespace n ON n.nspname = t.schema
         LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        ORDER BY t.ord`
    )
    const oids = classes.filter((c) => c.oid !== null && (c.relkind === "r" || c.relkind === "p")).map((c) => c.oid!)
    const keyless = oids.length === 0 ? [] : yield* queryRows<{
      root: string
      nspname: string
      relname: string
      relreplident: string
    }>(
      client,
      `SELECT r.oid::int8::text AS root, n.nspname::text, c.relname::text, c.relreplident::text
         FROM unnest(ARRAY[${oids.join(", ")}]::oid[]) AS r(oid)
         CROSS JOIN LATERAL (
           SELECT p.relid FROM pg_partition_tree(r.oid) AS p WHERE p.isleaf
           UNION ALL SELECT r.oid WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree(r.oid))
         ) AS leaf
         JOIN pg_class c ON c.oid = leaf.relid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND NOT (
              c.relreplident = 'f'
           OR (c.relreplident = 'd' AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
           OR (c.relreplident = 'i' AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
        ORDER BY 1, 2, 3`
    )
    const keylessByRoot = new Map<string, Array<KeylessLeaf>>()
    for (const row of keyless) {
      const list = keylessByRoot.get(row.root) ?? []
      list.push({
        table: { schema: row.nspname, name: row.relname },
        replicaIdentity: replicaIdentities[row.relreplident] ?? "default"
      })
      keylessByRoot.set(row.root, list)
    }
    return classes.map((c, i) => ({
      table: tables[i]!,
      kind: c.relkind ?? undefined,
      ancestors: (c.anc_names ?? []).map((name, j) => ({ schema: c.anc_schemas![j]!, name })),
      columns: c.oid === null ? [] : c.columns ?? [],
      columnTypes: c.oid === null ? [] : c.column_types ?? [],
      inheritors: (c.inh_names ?? []).map((name, j) => ({ schema: c.inh_schemas![j]!, name })),
      unlogged: c.unlogged === true,
      keyless: c.oid === null ? [] : keylessByRoot.get(c.oid) ?? []
    }))
  })

// ---------------------------------------------------------------------------
// Column facts (NOT NULL, defaults)

/**
 * NOT NULL and the default expression of each live column of a table, by
 * name (generated columns have no default: their expression is not one).
 */
export const columnFacts = (
  client: Queryable,
  relationId: number
): Effect.Effect<Map<string, { readonly notNull: boolean; readonly defaultExpression: string | null }>, PostgresError> =>
  Effect.map(
    queryRows<{ name: string; not_null: boolean; default_expression: string | null }>(
      client,
      `SELECT a.attname::text AS name, a.attnotnull AS not_null,
              CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default_expression
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped`,
      [relationId]
    ),
    (rows) => new Map(rows.map((r) => [r.name, { notNull: r.not_null, defaultExpression: r.default_expression }]))
  )
