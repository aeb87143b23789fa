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
import { type ConnectOptions, pgClientConfig, sslFallback } from "./connection.js"

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
    return { message: [...new Set(inner.map((i) => i.message))].join("; "), code: inner[0]?.code }
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

/** Opens one connection for the life of the scope. */
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
        try {
          return await attempt(pgClientConfig(url, options))
        } catch (error) {
          // sslmode=prefer / allow: libpq's second attempt, the other way.
          if (!sslFallback(url, error)) throw error
          return await attempt(pgClientConfig(url, { ...options, sslFallback: true }))
        }
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
