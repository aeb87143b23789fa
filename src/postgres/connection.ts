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
  const text = firstHostUrl(Redacted.value(url))
  return URL.canParse(text) ? new URL(text).searchParams.get("sslmode") : null
}

// --- Several hosts (libpq's multi-host URL) -----------------------------------------------------

/** `postgres://user:pw@h1:5432,h2:5433/db?...`: the scheme, the user part, the host list and the rest. */
const urlParts = (text: string) => {
  const match = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/s.exec(text)
  if (match === null) return undefined
  const authority = match[2]!
  const at = authority.lastIndexOf("@")
  return {
    scheme: match[1]!,
    user: at === -1 ? "" : authority.slice(0, at + 1),
    hosts: (at === -1 ? authority : authority.slice(at + 1)).split(","),
    rest: match[3]!
  }
}

/**
 * One URL per host of a libpq multi-host URL (`h1:5432,h2:5433`), in order;
 * the URL itself when it names one host. `pg` and WHATWG URLs take one host.
 */
export const hostUrls = (text: string): ReadonlyArray<string> => {
  const parts = urlParts(text)
  if (parts === undefined || parts.hosts.length < 2) return [text]
  return parts.hosts.map((host) => `${parts.scheme}${parts.user}${host}${parts.rest}`)
}

const firstHostUrl = (text: string): string => hostUrls(text)[0]!

/** The hosts as `host:port`, for messages (never the password). */
export const hostsOf = (url: Redacted.Redacted<string>): ReadonlyArray<string> =>
  hostUrls(Redacted.value(url)).map((one) => {
    const parsed = parse(one)
    const host = parsed.host || "localhost"
    return `${host.includes(":") ? `[${host}]` : host}:${parsed.port || 5432}`
  })

/** libpq's target_session_attrs values; "any" is the default. */
export const targetSessionAttrs = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"] as const
export type TargetSessionAttrs = typeof targetSessionAttrs[number]

export const targetSessionAttrsOf = (url: Redacted.Redacted<string>): TargetSessionAttrs => {
  const text = firstHostUrl(Redacted.value(url))
  const value = URL.canParse(text) ? new URL(text).searchParams.get("target_session_attrs") : null
  return (targetSessionAttrs as ReadonlyArray<string>).includes(value ?? "") ? value as TargetSessionAttrs : "any"
}

/** Each host's URL, wrapped again: connectClient tries them in order. */
export const splitHosts = (url: Redacted.Redacted<string>): ReadonlyArray<Redacted.Redacted<string>> => {
  const urls = hostUrls(Redacted.value(url))
  return urls.length === 1 ? [url] : urls.map((one) => Redacted.make(one))
}

/** The `pg.ClientConfig` for a URL; the URL's secret is unwrapped only here. */
export const pgClientConfig = (url: Redacted.Redacted<string>, options: ConnectOptions = {}): ClientConfig => {
  // One host: connectClient splits a multi-host URL and tries each in turn.
  const parsed = parse(firstHostUrl(Redacted.value(url)), { useLibpqCompat: true })
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
  parse(firstHostUrl(Redacted.value(url))).database ?? ""
