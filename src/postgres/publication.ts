/**
 * The publication Outboxx streams from. One implementation for the daemon
 * (which calls `ensurePublication` before it starts streaming — rule 5) and
 * for `check`, which calls `planPublication` to say what would happen.
 *
 * - "filtered" mode: Outboxx manages `FOR TABLE <every configured table>`,
 *   publishing the operations the streams ask for (their union) with
 *   `publish_via_partition_root`, so a partitioned table's changes arrive
 *   under its own name whichever partition holds the row. A publication it
 *   creates carries the comment `managed by outboxx (slot <slot>)`: the slot's
 *   pipeline owns it. Another pipeline (another slot) configured with the same
 *   name is refused rather than allowed to `SET TABLE` the owner's tables
 *   away, and a publication Outboxx did not create is never altered.
 * - "existing" mode: the publication must exist and fit (every table,
 *   operation and partition root); it is used as it is, never altered.
 *
 * Both modes refuse a table whose updates/deletes would be published without
 * a usable replica identity: PostgreSQL would reject the application's own
 * UPDATE and DELETE on it (docs/reliability.md, "What Outboxx refuses").
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Operation, OutboxxSettings, TableRef } from "../config/model.js"
import {
  captureFacts,
  type CaptureFacts,
  isStandby,
  managedPublicationComment,
  publicationInfo,
  type PublicationInfo,
  publicationOwner,
  type Queryable
} from "./catalog.js"
import { type PostgresError, queryRows } from "./Postgres.js"
import { keyColumnsOf, PipelineShard, shardPredicate, type ShardOf } from "./shardFilter.js"
import { quoteIdent, quoteLiteral, quoteTable } from "./quote.js"
import { renderTopic } from "../config/topic.js"
import { outboxTableProblem } from "../outbox/table.js"

export class PublicationError extends Schema.TaggedError<PublicationError>()("PublicationError", {
  publication: Schema.String,
  message: Schema.String
}) {}

const allOperations: ReadonlyArray<Operation> = ["insert", "update", "delete", "truncate"]

/** What a managed publication publishes: the union of the streams' `operations`, in PostgreSQL's order. */
export const publishedOperations = (settings: Pick<OutboxxSettings, "streams">): ReadonlyArray<Operation> =>
  allOperations.filter((op) => settings.streams.some((s) => s.operations.has(op)))

const key = (t: TableRef): string => `${t.schema}\u0000${t.name}`

/** Every table of every stream, once, in config order. */
export const configuredTables = (settings: Pick<OutboxxSettings, "streams">): ReadonlyArray<TableRef> => {
  const seen = new Map<string, TableRef>()
  for (const stream of settings.streams) {
    for (const table of stream.tables) if (!seen.has(key(table))) seen.set(key(table), table)
  }
  return [...seen.values()]
}

export type PublicationPlan =
  | {
    readonly _tag: "Create"
    readonly tables: ReadonlyArray<TableRef>
    readonly operations: ReadonlyArray<Operation>
    /** publish_generated_columns = stored (PostgreSQL 18+). */
    readonly generatedColumns: boolean
  }
  | {
    readonly _tag: "Alter"
    readonly tables: ReadonlyArray<TableRef>
    readonly add: ReadonlyArray<TableRef>
    readonly remove: ReadonlyArray<TableRef>
    /** The publish list must be set to `operations`. */
    readonly publish: boolean
    readonly operations: ReadonlyArray<Operation>
    /** publish_via_partition_root must be switched on. */
    readonly viaRoot: boolean
    /** A publication of an older Outboxx (no owner in its comment) is claimed for this slot. */
    readonly claim: boolean
    /** publish_generated_columns must be set to this ("stored" / "none"); undefined = leave it. */
    readonly generatedColumns: "stored" | "none" | undefined
  }
  | { readonly _tag: "Unchanged" }
  | {
    /** existing mode: it fits; what it publishes beyond the configuration is filtered downstream. */
    readonly _tag: "UseExisting"
  }
  | {
    /** It cannot work as configured: every reason, each with the fix. */
    readonly _tag: "Invalid"
    readonly message: string
    readonly fixes: ReadonlyArray<string>
  }

const tablesText = (tables: ReadonlyArray<TableRef>): string => tables.map(quoteTable).join(", ")
/**
 * `ONLY` each: an inheritance parent's children are tables of their own, not
 * published unless configured (a partitioned table still publishes its
 * partitions: ONLY does not apply to partitions).
 */
const onlyTablesText = (tables: ReadonlyArray<TableRef>): string => tables.map((t) => `ONLY ${quoteTable(t)}`).join(", ")

/** Streams (by name) that capture `table` and want one of `ops`. */
const streamsWanting = (settings: Pick<OutboxxSettings, "streams">, table: TableRef, ops: ReadonlyArray<Operation>) =>
  settings.streams.filter((s) =>
    s.tables.some((t) => key(t) === key(table)) && ops.some((op) => s.operations.has(op))
  ).map((s) => JSON.stringify(s.name))

/**
 * Partition roots and replica identities against what the publication
 * publishes (`publishes`: its operations; `viaRoot`; `roots`: tables whose
 * partitions are published under the root's name).
 */
const captureProblems = (
  settings: Pick<OutboxxSettings, "streams" | "postgres">,
  facts: ReadonlyArray<CaptureFacts>,
  publication: { readonly update: boolean; readonly delete: boolean; readonly viaRoot: boolean },
  publishedAsRoot: (table: TableRef) => boolean
): { problems: Array<string>; fixes: Array<string> } => {
  const problems: Array<string> = []
  const fixes: Array<string> = []
  const name = quoteIdent(settings.postgres.publication)
  const existing = settings.postgres.publicationMode === "existing"
  for (const fact of facts) {
    const table = quoteTable(fact.table)
    if (fact.kind === undefined) continue // "not found" is check's table check, and the slot cannot start either
    if (fact.kind === "p" && !publication.viaRoot) {
      problems.push(
        `${table} is a partitioned table and publication ${name} publishes its changes under the partitions' names ` +
          `(publish_via_partition_root = false), so none would reach its streams`
      )
      fixes.push(`ALTER PUBLICATION ${name} SET (publish_via_partition_root = true)`)
    }
    if (publication.viaRoot) {
      const root = fact.ancestors.find(publishedAsRoot)
      if (root !== undefined) {
        problems.push(
          `${table} is a partition of ${quoteTable(root)}, which publication ${name} publishes too: PostgreSQL ` +
            `sends ${table}'s changes as ${quoteTable(root)}'s (publish_via_partition_root)`
        )
        fixes.push(`capture ${quoteTable(root)} (all its partitions) or ${table}, not both`)
      }
    }
    if (fact.keyless.length > 0 && (publication.update || publication.delete)) {
      const leaves = fact.keyless.map((l) =>
        `${quoteTable(l.table)} (REPLICA IDENTITY ${l.replicaIdentity === "default" ? "DEFAULT without a primary key" : l.replicaIdentity.toUpperCase()})`
      )
      const what = fact.keyless.length === 1 && key(fact.keyless[0]!.table) === key(fact.table)
        ? `${table} has no usable replica identity ${leaves[0]!.slice(table.length + 1)}`
        : `partitions of ${table} have no usable replica identity: ${leaves.join(", ")}`
      const wanting = streamsWanting(settings, fact.table, ["update", "delete"])
      const why = existing
        ? `publication ${name} publishes its updates/deletes`
        : wanting.length > 0
        ? `stream ${wanting.join(", ")} captures its updates/deletes`
        : `its streams exclude update and delete, but publication ${name} publishes them for other streams of this pipeline`
      problems.push(
        `${what}; ${why}, and PostgreSQL then rejects the application's UPDATE and DELETE on it ` +
          `("cannot update table because it does not have a replica identity and publishes updates")`
      )
      for (const leaf of fact.keyless) {
        fixes.push(`ALTER TABLE ${quoteTable(leaf.table)} REPLICA IDENTITY FULL (or add a primary key)`)
      }
      if (!existing && wanting.length === 0) fixes.push(`or capture ${table} in a pipeline (slot and publication) of its own`)
      if (!existing && wanting.length > 0) {
        fixes.push(`or set operations = ["insert", "truncate"] for ${table}'s streams (in a pipeline of their own)`)
      }
    }
  }
  return { problems, fixes }
}

/**
 * `key` and `include_columns` name columns the table sends (checked here,
 * before any slot or topic exists, not when the first change arrives).
 * `exclude_columns` may name columns some tables lack.
 */
const columnProblems = (
  settings: Pick<OutboxxSettings, "streams">,
  facts: ReadonlyArray<CaptureFacts>
): { problems: Array<string>; fixes: Array<string> } => {
  const problems: Array<string> = []
  const fixes: Array<string> = []
  const byTable = new Map(facts.map((f) => [key(f.table), f]))
  for (const stream of settings.streams) {
    for (const table of stream.tables) {
      const fact = byTable.get(key(table))
      if (fact === undefined || fact.kind === undefined) continue
      if (stream.kind === "outbox") {
        const topic = renderTopic(stream.topic, { schema: table.schema, table: table.name, stream: stream.name })
        const problem = outboxTableProblem(stream.outbox, topic, fact.columns.map((name, i) => ({ name, typeOid: fact.columnTypes[i] ?? 0 })))
        if (problem !== undefined) {
          problems.push(`stream ${JSON.stringify(stream.name)}, outbox table ${quoteTable(table)}: ${problem}`)
          fixes.push(`fix [streams.outbox] or the topic template of stream ${JSON.stringify(stream.name)}, or the table`)
        }
        continue
      }
      const known = new Set(fact.columns)
      for (const [what, names] of [["key", stream.key], ["include_columns", stream.includeColumns]] as const) {
        const missing = (names ?? []).filter((n) => !known.has(n))
        if (missing.length === 0) continue
        problems.push(
          `stream ${JSON.stringify(stream.name)}: ${what} names ${missing.map((n) => JSON.stringify(n)).join(", ")}, ` +
            `which ${quoteTable(table)} does not have (or does not publish: generated columns are not sent)`
        )
        fixes.push(`use columns of ${quoteTable(table)}: ${fact.columns.join(", ")}`)
      }
    }
  }
  return { problems, fixes }
}

/**
 * What has to happen to the publication for these settings (pure; `existing`
 * is the catalog's view of the publication, `facts` of the configured tables).
 */
export const planPublication = (
  settings: Pick<OutboxxSettings, "streams" | "postgres">,
  existing: PublicationInfo | undefined,
  facts: ReadonlyArray<CaptureFacts> = []
): PublicationPlan => {
  const name = settings.postgres.publication
  const pub = quoteIdent(name)
  const tables = configuredTables(settings)
  const invalid = (problems: ReadonlyArray<string>, fixes: ReadonlyArray<string>): PublicationPlan => ({
    _tag: "Invalid",
    message: problems.join("; "),
    fixes
  })
  const columns = columnProblems(settings, facts)
  const absent = facts.filter((f) => f.kind === undefined)
  if (absent.length > 0) {
    // A typo, or a table dropped since the last run: either way the configuration names what is not there.
    columns.problems.unshift(...absent.map((f) => `table ${quoteTable(f.table)} does not exist`))
    columns.fixes.unshift(`create ${tablesText(absent.map((f) => f.table))}, or remove it from the streams' tables`)
  }
  const unlogged = facts.filter((f) => f.unlogged)
  if (unlogged.length > 0) {
    columns.problems.push(...unlogged.map((f) =>
      `${quoteTable(f.table)} is UNLOGGED: PostgreSQL writes none of its changes to the WAL, so they cannot be captured`
    ))
    columns.fixes.push(...unlogged.map((f) => `ALTER TABLE ${quoteTable(f.table)} SET LOGGED`))
  }
  const notTables = facts.filter((f) => f.kind !== undefined && f.kind !== "r" && f.kind !== "p")
  if (notTables.length > 0) {
    columns.problems.push(...notTables.map((f) => `${quoteTable(f.table)} is not a table (relkind ${f.kind}); only tables can be published`))
    columns.fixes.push("capture the underlying table instead")
  }
  if (columns.problems.length > 0) return invalid(columns.problems, columns.fixes)
  if (settings.postgres.publicationMode === "existing") {
    if (existing === undefined) {
      return invalid(
        [`publication ${pub} does not exist (publication_mode = "existing" uses it as it is)`],
        [`CREATE PUBLICATION ${pub} FOR TABLE ${tablesText(tables)} WITH (publish_via_partition_root = true)`]
      )
    }
    const published = new Set(existing.tables.map(key))
    const problems: Array<string> = []
    const fixes: Array<string> = []
    // With publish_via_partition_root, pg_publication_tables lists the published roots only.
    const asRoot = (t: TableRef) => existing.allTables || published.has(key(t))
    const missing = existing.allTables
      ? []
      : tables.filter((t) => {
        if (published.has(key(t))) return false
        const fact = facts.find((f) => key(f.table) === key(t))
        // A partition published through its root is reported by captureProblems, with the reason.
        return !(existing.viaRoot && fact !== undefined && fact.ancestors.some(asRoot))
      })
    if (missing.length > 0) {
      problems.push(`publication ${pub} does not publish ${tablesText(missing)}, so their changes would never arrive`)
      fixes.push(`ALTER PUBLICATION ${pub} ADD TABLE ${tablesText(missing)}`)
    }
    const wanted = publishedOperations(settings)
    const missingOps = wanted.filter((op) => !existing[op])
    if (missingOps.length > 0) {
      problems.push(`publication ${pub} does not publish ${missingOps.join(", ")}, which the streams capture`)
      fixes.push(
        `ALTER PUBLICATION ${pub} SET (publish = ${
          quoteLiteral(allOperations.filter((op) => existing[op] || wanted.includes(op)).join(", "))
        })`
      )
    }
    if (settings.postgres.publishGeneratedColumns && existing.generatedColumns !== "stored") {
      problems.push(`publication ${pub} does not publish stored generated columns, which postgres.publish_generated_columns asks for`)
      fixes.push(`ALTER PUBLICATION ${pub} SET (publish_generated_columns = stored)`)
    }
    const capture = captureProblems(settings, facts, existing, asRoot)
    problems.push(...capture.problems)
    fixes.push(...capture.fixes)
    return problems.length > 0 ? invalid(problems, fixes) : { _tag: "UseExisting" }
  }
  const operations = publishedOperations(settings)
  const publishes = { update: operations.includes("update"), delete: operations.includes("delete"), viaRoot: true }
  const configured = new Set(tables.map(key))
  const capture = captureProblems(settings, facts, publishes, (t) => configured.has(key(t)))
  if (existing === undefined) {
    return capture.problems.length > 0
      ? invalid(capture.problems, capture.fixes)
      : { _tag: "Create", tables, operations, generatedColumns: settings.postgres.publishGeneratedColumns }
  }
  const owner = publicationOwner(existing)
  if (owner === undefined) {
    return invalid(
      [
        `publication ${pub} exists and was not created by outboxx; publication_mode = "filtered" only manages ` +
          `publications it created (it would change which tables yours publishes)`
      ],
      [`set publication_mode = "existing" to use it as it is, or choose another postgres.publication`]
    )
  }
  if (owner !== null && owner !== settings.postgres.slot) {
    return invalid(
      [
        `publication ${pub} belongs to the pipeline of slot ${quoteIdent(owner)} (this one's slot is ` +
          `${quoteIdent(settings.postgres.slot)}); managing it here would take that pipeline's tables away`
      ],
      [
        `give this pipeline its own publication (postgres.publication), or use publication_mode = "existing" ` +
          `with a publication made for it`
      ]
    )
  }
  if (existing.allTables) {
    return invalid(
      [`publication ${pub} is FOR ALL TABLES; outboxx cannot manage it in "filtered" mode`],
      [`set publication_mode = "existing", or choose another publication name`]
    )
  }
  if (capture.problems.length > 0) return invalid(capture.problems, capture.fixes)
  const current = new Set(existing.tables.map(key))
  const add = tables.filter((t) => !current.has(key(t)))
  const remove = existing.tables.filter((t) => !configured.has(key(t)))
  const publish = allOperations.some((op) => existing[op] !== operations.includes(op))
  const viaRoot = !existing.viaRoot
  const claim = owner === null
  // Before PostgreSQL 18 there is no such option (the version is checked before planning).
  const wantedGenerated = settings.postgres.publishGeneratedColumns ? "stored" : "none"
  const generatedColumns = existing.generatedColumns === undefined || existing.generatedColumns === wantedGenerated
    ? undefined
    : wantedGenerated
  if (add.length === 0 && remove.length === 0 && !publish && !viaRoot && !claim && generatedColumns === undefined) {
    return { _tag: "Unchanged" }
  }
  return { _tag: "Alter", tables, add, remove, publish, operations, viaRoot, claim, generatedColumns }
}

const publishOption = (operations: ReadonlyArray<Operation>): string =>
  `publish = ${quoteLiteral(operations.join(", "))}`

/** The SQL that carries out a plan (empty for Unchanged / UseExisting / Invalid); `slot` is the owner. */
export const publicationSql = (name: string, plan: PublicationPlan, slot: string): string => {
  const pub = quoteIdent(name)
  const marker = `COMMENT ON PUBLICATION ${pub} IS ${quoteLiteral(managedPublicationComment(slot))}`
  switch (plan._tag) {
    case "Create":
      // One simple query = one implicit transaction: never a publication without its marker.
      return `CREATE PUBLICATION ${pub} FOR TABLE ${onlyTablesText(plan.tables)} WITH (${
        publishOption(plan.operations)
      }, publish_via_partition_root = true${plan.generatedColumns ? ", publish_generated_columns = stored" : ""}); ${marker}`
    case "Alter": {
      const statements: Array<string> = []
      if (plan.add.length > 0 || plan.remove.length > 0) {
        statements.push(`ALTER PUBLICATION ${pub} SET TABLE ${onlyTablesText(plan.tables)}`)
      }
      const options: Array<string> = []
      if (plan.publish) options.push(publishOption(plan.operations))
      if (plan.viaRoot) options.push("publish_via_partition_root = true")
      if (plan.generatedColumns !== undefined) options.push(`publish_generated_columns = ${plan.generatedColumns}`)
      if (options.length > 0) statements.push(`ALTER PUBLICATION ${pub} SET (${options.join(", ")})`)
      if (plan.claim) statements.push(marker)
      return statements.join("; ")
    }
    default:
      return ""
  }
}

/**
 * Inheritance children of captured tables that are not captured themselves:
 * their rows are not the parent's (the snapshot reads the parent ONLY, the
 * publication publishes it ONLY), which a user may not expect.
 */
export const uncapturedInheritors = (
  settings: Pick<OutboxxSettings, "streams">,
  facts: ReadonlyArray<CaptureFacts>
): ReadonlyArray<{ readonly parent: TableRef; readonly children: ReadonlyArray<TableRef> }> => {
  const configured = new Set(configuredTables(settings).map(key))
  return facts
    .map((f) => ({ parent: f.table, children: f.inheritors.filter((c) => !configured.has(key(c))) }))
    .filter((entry) => entry.children.length > 0)
}

/** The publication's state and the configured tables' facts, as `planPublication` takes them. */
export const loadPublicationPlan = (
  client: Queryable,
  settings: Pick<OutboxxSettings, "streams" | "postgres">
): Effect.Effect<
  {
    readonly existing: PublicationInfo | undefined
    readonly plan: PublicationPlan
    readonly facts: ReadonlyArray<CaptureFacts>
  },
  PostgresError
> =>
  Effect.gen(function*() {
    const existing = yield* publicationInfo(client, settings.postgres.publication)
    const facts = yield* captureFacts(client, configuredTables(settings), settings.postgres.publishGeneratedColumns)
    if (settings.postgres.publishGeneratedColumns) {
      const [row] = yield* queryRows<{ version: string }>(client, "SELECT current_setting('server_version_num') AS version")
      if (Number(row!.version) < 180000) {
        const plan: PublicationPlan = {
          _tag: "Invalid",
          message: `postgres.publish_generated_columns needs PostgreSQL 18 or later (this server is ${Math.floor(Number(row!.version) / 10000)}); ` +
            `before 18, logical replication does not send generated columns`,
          fixes: ["set postgres.publish_generated_columns = false, or upgrade PostgreSQL"]
        }
        return { existing, plan, facts }
      }
    }
    return { existing, plan: planPublication(settings, existing, facts), facts }
  })

export type PublicationOutcome = "created" | "altered" | "unchanged" | "existing"

/**
 * Creates or aligns the publication (filtered mode), or verifies it fits
 * (existing mode); fails with what is wrong and how to fix it. Works on a
 * plain or a walsender connection. Runs before any slot or topic is created.
 */
export const ensurePublication = Effect.fn("ensurePublication")(function*(
  client: Queryable,
  settings: Pick<OutboxxSettings, "streams" | "postgres">
): Effect.fn.Return<PublicationOutcome, PublicationError | PostgresError> {
  const name = settings.postgres.publication
  const { plan, facts } = yield* loadPublicationPlan(client, settings)
  yield* Effect.annotateCurrentSpan({ publication: name, plan: plan._tag })
  for (const { parent, children } of uncapturedInheritors(settings, facts)) {
    yield* Effect.logWarning(
      `${tablesText(children)} inherit${children.length === 1 ? "s" : ""} from ${quoteTable(parent)} but ` +
        `${children.length === 1 ? "is" : "are"} not captured: rows stored in a child table are not ${quoteTable(parent)}'s ` +
        `(add the children to the streams' tables to capture them)`
    )
  }
  const outcome = yield* applyPlan(client, settings, name, plan)
  // A shard's publication is outboxx's own: its row filters are set on every start.
  const shard = yield* PipelineShard
  if (shard !== undefined) yield* applyShardFilters(client, name, configuredTables(settings), shard)
  return outcome
})

/** Each table published with its shard's row filter (postgres/shardFilter.ts); a table without a usable key is refused. */
const applyShardFilters = Effect.fnUntraced(function*(
  client: Queryable,
  name: string,
  tables: ReadonlyArray<TableRef>,
  shard: ShardOf
) {
  const entries: Array<string> = []
  for (const table of tables) {
    const predicate = shardPredicate(yield* keyColumnsOf(client, table.schema, table.name), shard)
    if (typeof predicate !== "string") {
      return yield* new PublicationError({
        publication: name,
        message: `${quoteTable(table)} cannot be split into shards: ${predicate.refused}`
      })
    }
    entries.push(`ONLY ${quoteTable(table)} WHERE (${predicate})`)
  }
  yield* queryRows(client, `ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${entries.join(", ")}`)
  yield* Effect.logInfo(`publication ${quoteIdent(name)} publishes shard ${shard.index} of ${shard.count}`)
})

const applyPlan = Effect.fnUntraced(function*(
  client: Queryable,
  settings: Pick<OutboxxSettings, "streams" | "postgres">,
  name: string,
  plan: PublicationPlan
): Effect.fn.Return<PublicationOutcome, PublicationError | PostgresError> {
  switch (plan._tag) {
    case "Invalid":
      return yield* new PublicationError({
        publication: name,
        message: `${plan.message}${plan.fixes.length > 0 ? ` (fix: ${plan.fixes.join("; ")})` : ""}`
      })
    case "Unchanged":
      return "unchanged"
    case "UseExisting":
      return "existing"
    case "Create":
    case "Alter": {
      const sql = publicationSql(name, plan, settings.postgres.slot)
      if (yield* isStandby(client)) {
        // Decoding on a standby: the publication is catalog data, made on the primary and replayed here.
        return yield* new PublicationError({
          publication: name,
          message: `the server is a standby (read-only), so the publication cannot be ${plan._tag === "Create" ? "created" : "altered"} here; ` +
            `run on the primary: ${sql}`
        })
      }
      yield* queryRows(client, sql)
      yield* Effect.logInfo(`publication ${quoteIdent(name)} ${plan._tag === "Create" ? "created" : "altered"}`)
      return plan._tag === "Create" ? "created" : "altered"
    }
  }
})
