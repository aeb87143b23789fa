/**
 * Plain PostgreSQL access: scoped single connections (catalog, admin and
 * walsender connections alike), one statement at a time. Each part of the
 * pipeline opens the connections it needs for the life of its scope; the
 * pooled Postgres service the design card drew was never used and is gone.
 *
 * Every URL goes through `pgClientConfig`, so the password is unwrapped only
 * there and never reaches an error message or a log line.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import pg from "pg"
import type { PostgresSettings } from "../config/model.js"
import type * as Redacted from "effect/Redacted"
import {
  type ConnectOptions,
  hostsOf,
  pgClientConfig,
  splitHosts,
  sslFallback,
  type TargetSessionAttrs,
  targetSessionAttrsOf
} from "./connection.js"

export class PostgresError extends Schema.TaggedError<PostgresError>()("PostgresError", {
  /** What we were doing, e.g. "connect" or "query pg_replication_slots". */
  operation: Schema.String,
  message: Schema.String,
  /** The SQLSTATE (e.g. "42P01") or the Node error code (e.g. "ECONNREFUSED"). */
  code: Schema.optional(Schema.String),
  cause: Schema.Defect()
}) {}

/** `message` of a pg / Node error, including every reason of an AggregateError (ECONNREFUSED on ::1 and 127.0.0.1). */
export const describePgError = (error: unknown): { readonly message: string; readonly code: string | undefined } => {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = error.errors.map((e) => describePgError(e))
    const reasons = [...new Set(inner.map((i) => i.message))].join("; ")
    return { message: error.message === "" ? reasons : `${error.message} (${reasons})`, code: inner[0]?.code }
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    const message = error.message !== "" ? error.message : String(code ?? error.name)
    return { message, code: typeof code === "string" ? code : undefined }
  }
  return { message: String(error), code: undefined }
}

export const toPostgresError = (operation: string) => (error: unknown): PostgresError => {
  const { code, message } = describePgError(error)
  return new PostgresError({ operation, message, code, cause: error })
}

/**
 * Whether a connected session is what `target_session_attrs` asks for
 * (libpq's meaning); undefined when it is, else why not.
 */
const sessionMismatch = async (client: pg.Client, want: TargetSessionAttrs): Promise<string | undefined> => {
  if (want === "any") return undefined
  const { rows } = await client.query<{ standby: boolean; read_only: string }>(
    "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only"
  )
  const standby = rows[0]!.standby
  const readOnly = standby || rows[0]!.read_only === "on"
  switch (want) {
    case "read-write":
      return readOnly ? (standby ? "is a standby (read-only)" : "is read-only") : undefined
    case "read-only":
      return readOnly ? undefined : "is read-write"
    case "primary":
      return standby ? "is a standby" : undefined
    case "standby":
    case "prefer-standby":
      return standby ? undefined : "is not a standby"
  }
}

/**
 * Opens one connection for the life of the scope. A URL naming several hosts
 * (libpq syntax, `h1:5432,h2:5433`) tries them in order, as libpq does, and
 * takes the first whose session matches `target_session_attrs`
 * (`prefer-standby`: a standby first, else any); after a failover that is
 * the promoted server. When none does, the error names each host and why.
 */
export const connectClient = (
  url: PostgresSettings["url"],
  options: ConnectOptions = {}
): Effect.Effect<pg.Client, PostgresError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const attempt = async (config: pg.ClientConfig) => {
          const client = new pg.Client(config)
          // An error event after connect (server restart, idle kill) must not crash the process;
          // the next query on this client fails and reports it.
          client.on("error", () => {})
          try {
            await client.connect()
          } catch (error) {
            await client.end().catch(() => {})
            throw error
          }
          return client
        }
        const connectOne = async (one: Redacted.Redacted<string>) => {
          try {
            return await attempt(pgClientConfig(one, options))
          } catch (error) {
            // sslmode=prefer / allow: libpq's second attempt, the other way.
            if (!sslFallback(one, error)) throw error
            return await attempt(pgClientConfig(one, { ...options, sslFallback: true }))
          }
        }
        const hosts = splitHosts(url)
        const want = targetSessionAttrsOf(url)
        if (hosts.length === 1 && want === "any") return await connectOne(url)
        const names = hostsOf(url)
        const failures: Array<Error> = []
        for (const pass of want === "prefer-standby" ? ["standby", "any"] as const : [want]) {
          for (let i = 0; i < hosts.length; i++) {
            let client: pg.Client
            try {
              client = await connectOne(hosts[i]!)
            } catch (error) {
              // prefer-standby's second pass: this host's failure is on record from the first.
              if (pass === "any" && want === "prefer-standby") continue
              const { message, code } = describePgError(error)
              failures.push(Object.assign(new Error(`${names[i]}: ${message}`), code === undefined ? {} : { code }))
              continue
            }
            const mismatch = await sessionMismatch(client, pass).catch((e: unknown) => describePgError(e).message)
            if (mismatch === undefined) return client
            // Not the server asked for: the session is dropped; a failing close changes nothing.
            await client.end().catch(() => {})
            if (pass !== "any") failures.push(new Error(`${names[i]} ${mismatch}`))
          }
        }
        throw failures.length === 1 && hosts.length === 1
          ? failures[0]
          : new AggregateError(failures, `no server matched target_session_attrs=${want}`)
      },
      catch: toPostgresError("connect")
    }),
    (client) => Effect.promise(() => client.end().catch(() => {}))
  )

/** Runs one statement (simple protocol when there are no params, so it works on walsender connections too). */
export const queryRows = <R extends object = Record<string, unknown>>(
  client: pg.Client | pg.Pool,
  sql: string,
  params?: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<R>, PostgresError> =>
  Effect.tryPromise({
    try: async () => (await client.query<R>(sql, params === undefined ? undefined : [...params])).rows,
    catch: toPostgresError(sql.replace(/\s+/g, " ").trim().slice(0, 80))
  })
