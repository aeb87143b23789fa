/**
 * How Outboxx connects to PostgreSQL: a libpq-style URL (sslmode honoured) plus
 * the session settings that make every value arrive in one canonical text form.
 *
 * The settings go into the startup packet's `options`, so they apply to the
 * walsender too: pgoutput renders column values with the walsender session's
 * output functions, and a SET on a replication connection is not possible.
 */
import type { ClientConfig } from "pg"
import { parse } from "pg-connection-string"
import * as Redacted from "effect/Redacted"

/** GUCs that fix the text form of dates, floats, bytea and intervals. */
export const canonicalSessionSettings: ReadonlyArray<readonly [string, string]> = [
  ["DateStyle", "ISO"],
  ["TimeZone", "UTC"],
  ["extra_float_digits", "3"],
  ["bytea_output", "hex"],
  ["IntervalStyle", "postgres"],
  ["client_encoding", "UTF8"]
]

const sessionOptions = canonicalSessionSettings.map(([k, v]) => `-c ${k}=${v}`).join(" ")

export interface ConnectOptions {
  /** Open a logical replication (walsender) connection. */
  readonly replication?: boolean
  readonly applicationName?: string
  readonly connectTimeoutMs?: number
}

/** The `pg.ClientConfig` for a URL; the URL's secret is unwrapped only here. */
export const pgClientConfig = (url: Redacted.Redacted<string>, options: ConnectOptions = {}): ClientConfig => {
  const parsed = parse(Redacted.value(url), { useLibpqCompat: true })
  const userOptions = typeof parsed.options === "string" && parsed.options.length > 0 ? ` ${parsed.options}` : ""
  const config: ClientConfig = {
    ...(parsed.host != null ? { host: parsed.host } : {}),
    ...(parsed.port != null ? { port: Number(parsed.port) } : {}),
    ...(parsed.user !== undefined ? { user: parsed.user } : {}),
    ...(parsed.password !== undefined ? { password: parsed.password } : {}),
    ...(parsed.database != null ? { database: parsed.database } : {}),
    ...(parsed.ssl !== undefined ? { ssl: parsed.ssl as ClientConfig["ssl"] } : {}),
    options: sessionOptions + userOptions,
    application_name: options.applicationName ?? parsed.application_name ?? "outboxx",
    keepAlive: true,
    ...(options.connectTimeoutMs !== undefined ? { connectionTimeoutMillis: options.connectTimeoutMs } : {})
  }
  if (options.replication) {
    ;(config as ClientConfig & { replication: string }).replication = "database"
  }
  return config
}

/** The database name in a URL, without exposing the rest of it. */
export const databaseOf = (url: Redacted.Redacted<string>): string =>
  parse(Redacted.value(url)).database ?? ""
