/**
 * The publication Outboxx streams from. One implementation for the daemon
 * (which calls `ensurePublication` before it starts streaming — rule 5) and
 * for `check`, which calls `planPublication` to say what would happen.
 *
 * - "filtered" mode: Outboxx manages `FOR TABLE <every configured table>`,
 *   publishing insert, update, delete and truncate (per-stream operation
 *   filters are applied downstream). A publication it creates carries the
 *   comment "managed by outboxx", which is what lets `slot drop` remove it.
 * - "existing" mode: the publication must exist and is used as it is.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { OutboxxSettings, TableRef } from "../config/model.js"
import {
  isManagedPublication,
  managedPublicationComment,
  publicationInfo,
  type PublicationInfo,
  type Queryable
} from "./catalog.js"
import { type PostgresError, queryRows } from "./Postgres.js"
import { quoteIdent, quoteLiteral, quoteTable } from "./quote.js"

export class PublicationError extends Schema.TaggedError<PublicationError>()("PublicationError", {
  publication: Schema.String,
  message: Schema.String
}) {}

export const publishedOperations = "insert, update, delete, truncate"

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
  | { readonly _tag: "Create"; readonly tables: ReadonlyArray<TableRef> }
  | {
    readonly _tag: "Alter"
    readonly tables: ReadonlyArray<TableRef>
    readonly add: ReadonlyArray<TableRef>
    readonly remove: ReadonlyArray<TableRef>
    /** The publish list must be reset to all four operations. */
    readonly publish: boolean
  }
  | { readonly _tag: "Unchanged" }
  | {
    /** existing mode: tables it lacks / operations it does not publish (the pipeline will miss those). */
    readonly _tag: "UseExisting"
    readonly missingTables: ReadonlyArray<TableRef>
    readonly missingOperations: ReadonlyArray<string>
  }
  | { readonly _tag: "Invalid"; readonly message: string }

const allFour = (p: PublicationInfo): boolean => p.insert && p.update && p.delete && p.truncate

const missingOperationsOf = (p: PublicationInfo, wanted: ReadonlySet<string>): ReadonlyArray<string> =>
  (["insert", "update", "delete", "truncate"] as const).filter((op) => wanted.has(op) && !p[op])

/** What has to happen to the publication for these settings (pure; `existing` is the catalog's view). */
export const planPublication = (
  settings: Pick<OutboxxSettings, "streams" | "postgres">,
  existing: PublicationInfo | undefined
): PublicationPlan => {
  const name = settings.postgres.publication
  const tables = configuredTables(settings)
  if (settings.postgres.publicationMode === "existing") {
    if (existing === undefined) {
      return {
        _tag: "Invalid",
        message: `publication ${quoteIdent(name)} does not exist (publication_mode = "existing" uses it as it is)`
      }
    }
    const published = new Set(existing.tables.map(key))
    const wantedOps = new Set<string>(settings.streams.flatMap((s) => [...s.operations]))
    return {
      _tag: "UseExisting",
      missingTables: existing.allTables ? [] : tables.filter((t) => !published.has(key(t))),
      missingOperations: missingOperationsOf(existing, wantedOps)
    }
  }
  if (existing === undefined) return { _tag: "Create", tables }
  if (existing.allTables) {
    return {
      _tag: "Invalid",
      message: `publication ${quoteIdent(name)} is FOR ALL TABLES; outboxx cannot manage it in "filtered" mode ` +
        `(set publication_mode = "existing", or choose another publication name)`
    }
  }
  const wanted = new Set(tables.map(key))
  const current = new Set(existing.tables.map(key))
  const add = tables.filter((t) => !current.has(key(t)))
  const remove = existing.tables.filter((t) => !wanted.has(key(t)))
  const publish = !allFour(existing)
  if (add.length === 0 && remove.length === 0 && !publish) return { _tag: "Unchanged" }
  return { _tag: "Alter", tables, add, remove, publish }
}

const tableList = (tables: ReadonlyArray<TableRef>): string => tables.map(quoteTable).join(", ")

/** The SQL that carries out a plan (empty for Unchanged / UseExisting / Invalid). */
export const publicationSql = (name: string, plan: PublicationPlan): string => {
  const pub = quoteIdent(name)
  switch (plan._tag) {
    case "Create":
      // One simple query = one implicit transaction: never a publication without its marker.
      return `CREATE PUBLICATION ${pub} FOR TABLE ${tableList(plan.tables)} WITH (publish = ${
        quoteLiteral(publishedOperations)
      }); COMMENT ON PUBLICATION ${pub} IS ${quoteLiteral(managedPublicationComment)}`
    case "Alter": {
      const statements: Array<string> = []
      if (plan.add.length > 0 || plan.remove.length > 0) {
        statements.push(`ALTER PUBLICATION ${pub} SET TABLE ${tableList(plan.tables)}`)
      }
      if (plan.publish) statements.push(`ALTER PUBLICATION ${pub} SET (publish = ${quoteLiteral(publishedOperations)})`)
      return statements.join("; ")
    }
    default:
      return ""
  }
}

export type PublicationOutcome = "created" | "altered" | "unchanged" | "existing"

/**
 * Creates or aligns the publication (filtered mode), or verifies it exists
 * (existing mode). Works on a plain or a walsender connection.
 */
export const ensurePublication = Effect.fn("ensurePublication")(function*(
  client: Queryable,
  settings: Pick<OutboxxSettings, "streams" | "postgres">
): Effect.fn.Return<PublicationOutcome, PublicationError | PostgresError> {
  const name = settings.postgres.publication
  const existing = yield* publicationInfo(client, name)
  const plan = planPublication(settings, existing)
  yield* Effect.annotateCurrentSpan({ publication: name, plan: plan._tag })
  switch (plan._tag) {
    case "Invalid":
      return yield* new PublicationError({ publication: name, message: plan.message })
    case "Unchanged":
      return "unchanged"
    case "UseExisting":
      if (plan.missingTables.length > 0) {
        yield* Effect.logWarning(
          `publication ${quoteIdent(name)} does not publish ${plan.missingTables.map(quoteTable).join(", ")}; ` +
            `changes to those tables will not be captured`
        )
      }
      return "existing"
    case "Create":
    case "Alter":
      yield* queryRows(client, publicationSql(name, plan))
      yield* Effect.logInfo(`publication ${quoteIdent(name)} ${plan._tag === "Create" ? "created" : "altered"}`)
      return plan._tag === "Create" ? "created" : "altered"
  }
})
