/**
 * `state.backend = "postgres"`: the server holding the shared state is
 * reachable, writable (a primary), and the state tables exist or may be
 * created by the configured role. Also says whether a running instance
 * holds the pipeline's state.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { OutboxxSettings } from "../../config/model.js"
import { connectClient, queryRows } from "../../postgres/Postgres.js"
import { quoteIdent } from "../../postgres/quote.js"
import { stateLockClass } from "../../state/PostgresJournal.js"
import { type CheckResult, fail, ok } from "./report.js"

export const stateChecks = (settings: OutboxxSettings): Effect.Effect<ReadonlyArray<CheckResult>> => {
  if (settings.state.backend !== "postgres") return Effect.succeed([])
  const schema = settings.state.schema
  const check = "state (postgres)"
  return Effect.scoped(Effect.gen(function*() {
    const client = yield* connectClient(settings.state.url ?? settings.postgres.url, {
      applicationName: "outboxx check",
      connectTimeoutMs: Math.max(1, Duration.toMillis(settings.postgres.connectTimeout))
    })
    const [row] = yield* queryRows<{ standby: boolean; tables: boolean; may_create: boolean; holder: string | null }>(
      client,
      `SELECT pg_is_in_recovery() AS standby,
              to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS tables,
              has_database_privilege(current_database(), 'CREATE') AS may_create,
              (SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $3::bigint::oid
                  AND l.objid = (hashtext($4)::bigint & 4294967295)::oid AND l.objsubid = 2 LIMIT 1) AS holder`,
      [`${quoteIdent(schema)}.journal`, `${quoteIdent(schema)}.holder`, stateLockClass, `${schema}.${settings.postgres.slot}`]
    )
    if (row!.standby) {
      return [fail(check, "the state server is a standby (read-only)", "point state.url at the primary")]
    }
    if (!row!.tables && !row!.may_create) {
      return [fail(
        check,
        `tables ${schema}.journal and ${schema}.holder are missing and this role may not create them`,
        "create them as an owner (docs/state.md) or GRANT CREATE ON DATABASE to this role"
      )]
    }
    const held = row!.holder === null ? "free" : `held by ${row!.holder.replace(/^outboxx-state /, "")}`
    return [ok(check, `${schema}.journal ${row!.tables ? "exists" : "will be created"}; pipeline ${settings.postgres.slot}: ${held}`)]
  })).pipe(
    Effect.catch((e) => Effect.succeed([fail(check, e.message, "check state.url (default postgres.url)")]))
  )
}
