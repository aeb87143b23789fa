/**
 * The PostgreSQL half of `outboxx check`. Each check turns into a line; a
 * query that fails becomes a FAIL line, never an exception out of `check`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { OutboxxSettings, StreamSettings, TableRef } from "../../config/model.js"
import {
  identityColumns,
  majorVersion,
  pgoutputProtocolFor,
  type PublicationInfo,
  type Queryable,
  replicationUsage,
  type ServerInfo,
  serverInfo,
  slotInfo,
  type TableInfo,
  tableInfo,
  tablesLike,
  unusableSlot
} from "../../postgres/catalog.js"
import { databaseOf, hostsOf, pgClientConfig } from "../../postgres/connection.js"
import { connectClient, type PostgresError, queryRows } from "../../postgres/Postgres.js"
import { readPublishKey } from "../../outbox/install.js"
import { outboxTableProblem } from "../../outbox/table.js"
import { renderTopic } from "../../config/topic.js"
import type pg from "pg"
import {
  configuredTables,
  loadPublicationPlan,
  type PublicationPlan,
  publishedOperations,
  uncapturedInheritors
} from "../../postgres/publication.js"
import { quoteIdent, quoteLiteral, quoteTable } from "../../postgres/quote.js"
import { type CheckResult, fail, ok, warn } from "./report.js"

export const minimumServerVersion = 140000

/** `host:port/database` for messages: never the user's password. */
export const describeTarget = (settings: OutboxxSettings): string => {
  const config = pgClientConfig(settings.postgres.url)
  return `${hostsOf(settings.postgres.url).join(",")}/${config.database ?? config.user ?? ""}`
}

export const formatBytes = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  const units = ["KiB", "MiB", "GiB", "TiB"]
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

const tableKey = (t: TableRef): string => `${t.schema}\u0000${t.name}`
const tablesText = (tables: ReadonlyArray<TableRef>): string => tables.map(quoteTable).join(", ")

/** Runs a check's queries; a PostgreSQL error becomes a FAIL line for that check. */
const guarded = (
  check: string,
  body: Effect.Effect<ReadonlyArray<CheckResult>, PostgresError>
): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.catchTag(body, "PostgresError", (e) => Effect.succeed([fail(check, `query failed: ${e.message}`)]))

// ---------------------------------------------------------------------------
// Server-level checks (pure, from one catalog query)

export const versionCheck = (server: ServerInfo): CheckResult =>
  server.versionNum < minimumServerVersion
    ? fail("server version", `PostgreSQL ${server.version}; outboxx needs 14 or later`, "upgrade PostgreSQL to 14 or later")
    : ok(
      "server version",
      `PostgreSQL ${majorVersion(server.versionNum)}; pgoutput protocol ${pgoutputProtocolFor(server.versionNum)}`
    )

export const walLevelCheck = (server: ServerInfo): CheckResult =>
  server.walLevel === "logical"
    ? ok("wal_level", "logical")
    : fail("wal_level", server.walLevel, "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL")

export const roleCheck = (server: ServerInfo): CheckResult => {
  const role = quoteIdent(server.user)
  if (server.isSuperuser) return ok("replication privilege", `role ${role} is a superuser`)
  if (server.hasReplication) return ok("replication privilege", `role ${role} has REPLICATION`)
  return fail(
    "replication privilege",
    `role ${role} has neither REPLICATION nor SUPERUSER`,
    `ALTER ROLE ${role} WITH REPLICATION`
  )
}

// ---------------------------------------------------------------------------
// Tables

/** What `before` holds for updates/deletes, or a FAIL when they cannot be captured. */
export const identityCheck = (
  check: string,
  table: TableInfo,
  published: ReadonlyArray<string> = ["insert", "update", "delete", "truncate"]
): CheckResult => {
  const name = quoteTable(table)
  const updatesPublished = published.includes("update") || published.includes("delete")
  if (!updatesPublished && identityColumns(table) === undefined) {
    return ok(check, "no usable replica identity; fine, as this pipeline captures no updates or deletes")
  }
  if (table.kind === "p") {
    // The rows live in the partitions: the publication check looks at each one's identity.
    const identity = identityColumns(table)
    return ok(check, `partitioned table${identity === undefined ? "" : ` (identity ${identity.join(", ")})`}; changes published as its own`)
  }
  switch (table.replicaIdentity) {
    case "full":
      return ok(check, "REPLICA IDENTITY FULL: before holds the whole old row for u/d")
    case "index":
      return ok(
        check,
        `REPLICA IDENTITY USING INDEX (${table.identityIndex.join(", ")}): before holds those columns for u/d`
      )
    case "default":
      if (table.primaryKey.length > 0) {
        return ok(
          check,
          `primary key (${table.primaryKey.join(", ")}): before holds the key columns only for u/d`
        )
      }
      return fail(
        check,
        "no primary key and REPLICA IDENTITY DEFAULT: updates and deletes cannot be captured " +
          "(and PostgreSQL rejects UPDATE/DELETE on the table once it is published)",
        `ALTER TABLE ${name} REPLICA IDENTITY FULL, or add a primary key`
      )
    case "nothing":
      return fail(
        check,
        "REPLICA IDENTITY NOTHING: updates and deletes cannot be captured",
        `ALTER TABLE ${name} REPLICA IDENTITY FULL (or DEFAULT with a primary key)`
      )
  }
}

/** key / include_columns / exclude_columns of one stream against one table. */
export const columnChecks = (stream: StreamSettings, streamIndex: number, table: TableInfo): ReadonlyArray<CheckResult> => {
  const results: Array<CheckResult> = []
  const check = `stream ${JSON.stringify(stream.name)} columns of ${quoteTable(table)}`
  const known = new Set(table.columns)
  const missing = (columns: ReadonlyArray<string>) => columns.filter((c) => !known.has(c))
  const at = (key: string) => `streams[${streamIndex}].${key}`
  const problems: Array<string> = []
  if (stream.key !== undefined) {
    const absent = missing(stream.key)
    if (absent.length > 0) problems.push(`${at("key")}: no column ${absent.map(quoteIdent).join(", ")}`)
  }
  if (stream.includeColumns !== undefined) {
    const absent = missing(stream.includeColumns)
    if (absent.length > 0) problems.push(`${at("include_columns")}: no column ${absent.map(quoteIdent).join(", ")}`)
  }
  // exclude_columns applies to the stream's tables that have the column; a
  // column some tables lack (card_number on orders, not on order_items) is fine.
  const absentExcluded = missing(stream.excludeColumns)
  if (problems.length > 0) {
    results.push(fail(check, problems.join("; "), `fix the column names (table has: ${table.columns.join(", ")})`))
    return results
  }
  // The Kafka key: `key`, else the primary key (else the identity, always carried).
  const kafkaKey = stream.key ?? (table.primaryKey.length > 0 ? table.primaryKey : undefined)
  if (kafkaKey !== undefined && (stream.operations.has("delete") || stream.operations.has("update"))) {
    // A delete carries only the identity columns; a key outside them has no value for deletes.
    const identity = new Set(identityColumns(table) ?? [])
    const outside = kafkaKey.filter((c) => !identity.has(c))
    if (outside.length > 0 && table.replicaIdentity !== "full" && (identity.size > 0 || stream.key !== undefined)) {
      const what = stream.key !== undefined ? `${at("key")} (${kafkaKey.join(", ")})` : `the primary key (${kafkaKey.join(", ")}), the Kafka key,`
      results.push(fail(
        check,
        `${what} includes ${outside.join(", ")}, which deletes do not carry (REPLICA IDENTITY USING INDEX on other columns)`,
        `ALTER TABLE ${quoteTable(table)} REPLICA IDENTITY FULL, or key on the identity columns`
      ))
      return results
    }
  }
  if (stream.key !== undefined || stream.includeColumns !== undefined || stream.excludeColumns.length > 0) {
    const parts: Array<string> = []
    if (stream.key !== undefined) parts.push(`key (${stream.key.join(", ")})`)
    if (stream.includeColumns !== undefined) parts.push(`include (${stream.includeColumns.join(", ")})`)
    const presentExcluded = stream.excludeColumns.filter((c) => known.has(c))
    if (presentExcluded.length > 0) parts.push(`exclude (${presentExcluded.join(", ")})`)
    const absentNote = absentExcluded.length > 0 ? `; not in this table, nothing to exclude: ${absentExcluded.join(", ")}` : ""
    results.push(ok(check, `${parts.length > 0 ? `${parts.join(", ")} exist` : "nothing to filter"}${absentNote}`))
  }
  return results
}

/** An outbox stream's table has the columns `[streams.outbox]` and the topic template name, and a payload it takes. */
const outboxTableCheck = (client: Queryable, stream: StreamSettings, table: TableInfo) => {
  const check = `stream ${JSON.stringify(stream.name)} outbox table ${quoteTable(table)}`
  return guarded(
    check,
    Effect.gen(function*() {
      const columns = yield* queryRows<{ name: string; typeOid: number }>(
        client,
        "SELECT attname AS name, atttypid::int AS \"typeOid\" FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table.oid]
      )
      const topic = renderTopic(stream.topic, { schema: table.schema, table: table.name, stream: stream.name })
      const problem = outboxTableProblem(stream.outbox, topic, columns)
      return [
        problem === undefined
          ? ok(check, `id ${stream.outbox.id}, key ${stream.outbox.key}, payload ${stream.outbox.payload}, topic ${topic}`)
          : fail(check, problem, "fix [streams.outbox] or the topic template, or the table")
      ]
    })
  )
}

const tableChecks = (client: Queryable, settings: OutboxxSettings) =>
  Effect.gen(function*() {
    const results: Array<CheckResult> = []
    const found = new Map<string, TableInfo>()
    for (const table of configuredTables(settings)) {
      const check = `table ${quoteTable(table)}`
      const lines = yield* guarded(
        check,
        Effect.gen(function*() {
          const info = yield* tableInfo(client, table)
          if (info === undefined) {
            const near = yield* tablesLike(client, table)
            const hint = near.length > 0
              ? `did you mean ${tablesText(near)}? (names are case-sensitive, as written in the config)`
              : "create it, or fix the table name in streams[].tables"
            return [fail(check, "not found", hint)]
          }
          if (info.kind !== "r" && info.kind !== "p") {
            const kind = ({ v: "view", m: "materialized view", f: "foreign table" } as Record<string, string>)[info.kind] ??
              `relation of kind ${info.kind}`
            return [fail(check, `is a ${kind}; only tables can be published`, "capture the underlying table instead")]
          }
          found.set(tableKey(table), info)
          const lines = [identityCheck(check, info, publishedOperations(settings))]
          if (info.generated.length > 0 && settings.postgres.publishGeneratedColumns) {
            lines.push(ok(
              `${check} generated columns`,
              `${info.generated.join(", ")}: published when stored (postgres.publish_generated_columns); virtual ones never are`
            ))
          } else if (info.generated.length > 0) {
            lines.push(warn(
              `${check} generated columns`,
              `${info.generated.join(", ")} ${info.generated.length === 1 ? "is a generated column" : "are generated columns"}: ` +
                `logical replication does not send them, so events and snapshots leave them out`,
              "on PostgreSQL 18, postgres.publish_generated_columns = true publishes stored ones; before, compute them downstream"
            ))
          }
          return lines
        })
      )
      results.push(...lines)
    }
    for (const [index, stream] of settings.streams.entries()) {
      for (const table of stream.tables) {
        const info = found.get(tableKey(table))
        if (info === undefined) continue
        if (stream.kind === "outbox") results.push(...(yield* outboxTableCheck(client, stream, info)))
        else results.push(...columnChecks(stream, index, info))
      }
    }
    return { results, found: found as ReadonlyMap<string, TableInfo> }
  })

// ---------------------------------------------------------------------------
// Publication, slots, WAL senders

const publicationCheck = (
  client: Queryable,
  settings: OutboxxSettings,
  server: ServerInfo,
  tables: ReadonlyMap<string, TableInfo>
) => {
  const name = settings.postgres.publication
  const check = `publication ${quoteIdent(name)}`
  return guarded(
    check,
    Effect.gen(function*() {
      const { existing, plan, facts } = yield* loadPublicationPlan(client, settings)
      const inheritance = uncapturedInheritors(settings, facts).map(({ parent, children }) =>
        warn(
          `table ${quoteTable(parent)} inheritance`,
          `${tablesText(children)} inherit from it and are not captured: rows stored in a child table are not in its events or snapshot`,
          "add the child tables to the streams' tables to capture them"
        )
      )
      return [...publicationLines(existing, plan), ...inheritance]
    })
  )

  function publicationLines(existing: PublicationInfo | undefined, plan: PublicationPlan): ReadonlyArray<CheckResult> {
      const notOwned = (candidates: ReadonlyArray<TableRef>) =>
        server.isSuperuser
          ? []
          : candidates.filter((t) => {
            const info = tables.get(tableKey(t))
            return info !== undefined && !info.ownedByCurrentUser
          })
      const role = quoteIdent(server.user)
      switch (plan._tag) {
        case "Invalid":
          return [fail(check, plan.message, plan.fixes.join("; "))]
        case "Unchanged":
          return [ok(check, `exists and covers all ${configuredTables(settings).length} tables`)]
        case "UseExisting":
          return [ok(check, "exists (publication_mode = existing) and covers every table, operation and partition root")]
        case "Create": {
          const problems: Array<string> = []
          if (!server.isSuperuser && !server.canCreateInDatabase) {
            problems.push(`role ${role} lacks CREATE on database ${quoteIdent(server.database)}`)
          }
          const foreign = notOwned(plan.tables)
          if (foreign.length > 0) problems.push(`role ${role} does not own ${tablesText(foreign)}`)
          return problems.length === 0
            ? [ok(check, `will be created FOR TABLE ${tablesText(plan.tables)}`)]
            : [fail(
              check,
              `cannot be created: ${problems.join("; ")}`,
              `GRANT CREATE ON DATABASE ${quoteIdent(server.database)} TO ${role}, make ${role} the tables' owner ` +
                `(or a member of the owning role), or create the publication yourself and set publication_mode = "existing"`
            )]
        }
        case "Alter": {
          const changes: Array<string> = []
          if (plan.add.length > 0) changes.push(`add ${tablesText(plan.add)}`)
          if (plan.remove.length > 0) changes.push(`remove ${tablesText(plan.remove)}`)
          if (plan.publish) changes.push(`publish ${plan.operations.join(", ")}`)
          if (plan.viaRoot) changes.push("publish_via_partition_root = true")
          if (plan.claim) changes.push(`claim it for slot ${quoteIdent(settings.postgres.slot)}`)
          const problems: Array<string> = []
          if (!server.isSuperuser && existing !== undefined && !existing.ownedByCurrentUser) {
            problems.push(`role ${role} does not own the publication`)
          }
          const foreign = notOwned(plan.add)
          if (foreign.length > 0) problems.push(`role ${role} does not own ${tablesText(foreign)}`)
          return problems.length === 0
            ? [ok(check, `will be altered: ${changes.join("; ")}`)]
            : [fail(
              check,
              `must be altered (${changes.join("; ")}) but ${problems.join("; ")}`,
              `run outboxx as the publication's owner, or align it yourself and set publication_mode = "existing"`
            )]
        }
      }
  }
}

const slotAndSenderChecks = (client: Queryable, settings: OutboxxSettings, server: ServerInfo) => {
  const slotName = settings.postgres.slot
  const check = `slot ${quoteIdent(slotName)}`
  return guarded(
    check,
    Effect.gen(function*() {
      const results: Array<CheckResult> = []
      const slot = yield* slotInfo(client, slotName)
      const usage = yield* replicationUsage(client)
      // Free slots: only needed when ours has to be created.
      if (slot === undefined) {
        const free = server.maxReplicationSlots - usage.slotsUsed
        results.push(
          free > 0
            ? ok("replication slots", `${free} of ${server.maxReplicationSlots} free`)
            : fail(
              "replication slots",
              `all ${server.maxReplicationSlots} in use (max_replication_slots)`,
              "drop an unused slot (SELECT pg_drop_replication_slot('name')) or raise max_replication_slots (restart needed)"
            )
        )
      }
      const senderFree = server.maxWalSenders - usage.walSendersActive
      results.push(
        senderFree > 0
          ? ok("wal senders", `${senderFree} of ${server.maxWalSenders} free`)
          : fail(
            "wal senders",
            `all ${server.maxWalSenders} in use (max_wal_senders)`,
            "raise max_wal_senders (restart needed) or stop another replication client"
          )
      )
      if (slot === undefined) {
        const snapshot = settings.postgres.snapshot
        results.push(ok(
          check,
          `does not exist; run will create it (pgoutput)${
            snapshot === "initial" || snapshot === "initial_only" || snapshot === "always"
              ? " and snapshot the tables first"
              : ""
          }`
        ))
        return results
      }
      const unusable = unusableSlot(slot, server.database)
      if (unusable !== undefined) {
        results.push(fail(check, unusable.reason, unusable.fix))
        return results
      }
      const retained = slot.retainedBytes === null ? "" : `, retaining ${formatBytes(slot.retainedBytes)} of WAL`
      const position = `confirmed ${slot.confirmedFlushLsn ?? "-"}${retained}`
      results.push(
        slot.active
          ? warn(
            check,
            `active, held by pid ${slot.activePid ?? "?"}; ${position}`,
            "another outboxx (or client) is streaming from it; a second run waits as standby"
          )
          : ok(check, `inactive; ${position}`)
      )
      return results
    })
  )
}

// ---------------------------------------------------------------------------

/** Every PostgreSQL check, in the order an operator would fix them. */
export const postgresChecks = (settings: OutboxxSettings): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.scoped(Effect.gen(function*() {
    const target = describeTarget(settings)
    const connectTimeoutMs = Math.max(1, Duration.toMillis(settings.postgres.connectTimeout))
    const connected = yield* connectClient(settings.postgres.url, {
      applicationName: "outboxx check",
      connectTimeoutMs
    }).pipe(
      Effect.timeout(Duration.millis(connectTimeoutMs + 1_000)),
      Effect.result
    )
    if (connected._tag === "Failure") {
      const error = connected.failure
      const reason = error._tag === "PostgresError" ? error.message : `no answer within ${connectTimeoutMs} ms`
      return [fail(
        "postgres reachable",
        `${target}: ${reason}`,
        "check postgres.url (or OUTBOXX_POSTGRES_URL) and that PostgreSQL accepts connections"
      )]
    }
    const client = connected.success
    const serverResult = yield* Effect.result(serverInfo(client))
    if (serverResult._tag === "Failure") {
      return [fail("postgres reachable", `${target}: ${serverResult.failure.message}`)]
    }
    const server = serverResult.success
    const results: Array<CheckResult> = [
      ok("postgres reachable", `PostgreSQL ${server.version.split(" ")[0]} at ${target} as ${quoteIdent(server.user)}`),
      versionCheck(server),
      walLevelCheck(server),
      roleCheck(server)
    ]
    if (server.inRecovery && server.versionNum < 160000) {
      results.push(fail(
        "primary server",
        "this server is a standby; logical decoding on a standby needs PostgreSQL 16+",
        "point postgres.url at the primary"
      ))
    }
    const tables = yield* tableChecks(client, settings)
    results.push(...tables.results)
    results.push(...(yield* publicationCheck(client, settings, server, tables.found)))
    results.push(...(yield* slotAndSenderChecks(client, settings, server)))
    results.push(...(yield* failoverCheck(client, settings, server)))
    if (settings.outbox !== undefined) results.push(yield* outboxCheck(client, databaseOf(settings.postgres.url)))
    return results
  }))

/**
 * A primary with physical standbys: does the slot survive a promotion?
 * Before 17 a logical slot exists on the primary only; from 17 a failover
 * slot is kept in step on standbys with sync_replication_slots.
 */
export const failoverAdvice = (
  versionNum: number,
  standbys: number,
  slotFailover: boolean,
  synchronizedStandbySlots: string
): CheckResult | undefined => {
  if (standbys === 0) return undefined
  const some = `${standbys} physical standby${standbys === 1 ? "" : "s"}`
  if (versionNum < 170000) {
    return warn(
      "failover",
      `${some}; before PostgreSQL 17 a logical slot is not kept on standbys: after a promotion the slot is gone, ` +
        `and outboxx refuses to start rather than skip changes (postgres.on_slot_lost)`,
      `upgrade to 17 and set postgres.slot_failover = true; until then plan a re-snapshot after a failover (on_slot_lost = "resnapshot")`
    )
  }
  if (!slotFailover) {
    return warn(
      "failover",
      `${some}, but the slot is not a failover slot: a promotion loses it`,
      "set postgres.slot_failover = true, and sync_replication_slots = on (with hot_standby_feedback, primary_slot_name) on the standbys"
    )
  }
  if (synchronizedStandbySlots === "") {
    return warn(
      "failover",
      `${some}; synchronized_standby_slots is empty, so changes may reach Kafka before a standby has them (a promotion can then lose rows Kafka already holds)`,
      "set synchronized_standby_slots on the primary to the standbys' physical slots"
    )
  }
  return ok("failover", `${some}; failover slot, synchronized_standby_slots = '${synchronizedStandbySlots}'`)
}

const failoverCheck = (client: Queryable, settings: OutboxxSettings, server: ServerInfo) =>
  guarded(
    "failover",
    Effect.gen(function*() {
      if (server.inRecovery) return []
      const [row] = yield* queryRows<{ standbys: number; synced: string | null }>(
        client,
        `SELECT (SELECT count(*)::int FROM pg_stat_replication r WHERE NOT EXISTS (
                  SELECT 1 FROM pg_replication_slots s WHERE s.active_pid = r.pid AND s.slot_type = 'logical')) AS standbys,
                current_setting('synchronized_standby_slots', true) AS synced`
      )
      const advice = failoverAdvice(server.versionNum, row!.standbys, settings.postgres.slotFailover, row!.synced ?? "")
      return advice === undefined ? [] : [advice]
    })
  )

/** `[outbox]`: the publish functions are installed and the daemon's role can read the key they sign with. */
const outboxCheck = (client: pg.Client, database: string): Effect.Effect<CheckResult> =>
  readPublishKey(client, database).pipe(
    Effect.andThen(
      queryRows<{ roles: string | null }>(
        client,
        "SELECT string_agg(DISTINCT grantee, ', ' ORDER BY grantee) AS roles FROM information_schema.routine_privileges " +
          "WHERE routine_schema = 'outboxx' AND routine_name = 'publish' AND privilege_type = 'EXECUTE'"
      ).pipe(Effect.orElseSucceed(() => [{ roles: null }]))
    ),
    Effect.match({
      onFailure: (error) => fail("outbox", error.message, "outboxx outbox install [--grant ROLE]"),
      onSuccess: (rows) => ok("outbox", `outboxx.publish installed; EXECUTE held by ${rows[0]?.roles ?? "its owner only"}`)
    })
  )
