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
  /**
   * libpq's second attempt: `sslmode=prefer` without TLS once the server
   * refused it, `sslmode=allow` with TLS once the server refused a plain
   * connection (see `sslFallback`).
   */
  readonly sslFallback?: boolean
}

/**
 * Whether a failed first attempt is one libpq would retry the other way:
 * `prefer` tries TLS first and goes plain when the server does not do TLS;
 * `allow` goes plain first and tries TLS when pg_hba.conf refuses a
 * connection without encryption (SQLSTATE 28000).
 */
export const sslFallback = (url: Redacted.Redacted<string>, error: unknown): boolean => {
  const mode = sslModeOf(url)
  const { message, code } = error as { message?: unknown; code?: unknown }
  if (mode === "prefer") return typeof message === "string" && message.includes("does not support SSL")
  if (mode === "allow") return code === "28000"
  return false
}

const sslModeOf = (url: Redacted.Redacted<string>): string | null => {
  const text = Redacted.value(url)
  return URL.canParse(text) ? new URL(text).searchParams.get("sslmode") : null
}

/** The `pg.ClientConfig` for a URL; the URL's secret is unwrapped only here. */
export const pgClientConfig = (url: Redacted.Redacted<string>, options: ConnectOptions = {}): ClientConfig => {
  const parsed = parse(Redacted.value(url), { useLibpqCompat: true })
  const mode = sslModeOf(url)
  if (mode === "allow" || mode === "prefer") {
    // TLS without verification, as libpq's allow/prefer; which attempt comes first is the mode's.
    const tls = (mode === "prefer") !== (options.sslFallback === true)
    const files = typeof parsed.ssl === "object" && parsed.ssl !== null ? parsed.ssl : {}
    ;(parsed as { ssl?: unknown }).ssl = tls ? { ...files, rejectUnauthorized: false } : false
  }
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
