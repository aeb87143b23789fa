/**
 * Which PostgreSQL failures waiting and reconnecting can fix: the one
 * classification every caller uses (the supervisor, the replication source,
 * the snapshot readers).
 *
 * Permanent, by SQLSTATE class (https://www.postgresql.org/docs/current/errcodes-appendix.html):
 *   28 authentication, 42 syntax / permissions / undefined objects,
 *   3D a missing database, 3F a missing schema, 0A a feature not supported,
 *   22 bad data, XX internal errors, and 55 an object not in the required
 *   state (an invalidated slot) except 55006 (a slot in use: another
 *   instance holds it, so wait) and 55P03 (a lock not available now).
 * Permanent too: TLS that cannot succeed as configured (a certificate that
 * does not verify, sslmode=require against a server without TLS).
 * Everything else (connection refused or lost, admin shutdown 57P01, the
 * server starting up or in recovery, timeouts) is transient.
 */
const permanentClasses = /^(28|42|3D|3F|0A|22|XX|55)/
const transientExceptions = new Set(["55006", "55P03"])

/** `code`: the SQLSTATE or Node's error code; `message`: the error's text. */
export const isPermanentPostgresFailure = (code: string | undefined, message: string): boolean => {
  if (message.includes("does not support SSL connections")) return true
  if (code === undefined) return false
  if (/CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET)|ERR_TLS_/.test(code)) return true
  return permanentClasses.test(code) && !transientExceptions.has(code)
}

/** The same for an unknown thrown value (pg's errors carry `code`). */
export const isPermanentPostgresCause = (cause: unknown): boolean => {
  const { code, message } = (cause ?? {}) as { code?: unknown; message?: unknown }
  return isPermanentPostgresFailure(typeof code === "string" ? code : undefined, typeof message === "string" ? message : "")
}

const classNames: Record<string, string> = {
  "08": "connection_exception",
  "0A": "feature_not_supported",
  "22": "data_exception",
  "28": "invalid_authorization",
  "3D": "invalid_catalog_name",
  "3F": "invalid_schema_name",
  "40": "transaction_rollback",
  "42": "syntax_error_or_access_rule_violation",
  "53": "insufficient_resources",
  "54": "program_limit_exceeded",
  "55": "object_not_in_prerequisite_state",
  "57": "operator_intervention",
  "58": "system_error",
  XX: "internal_error"
}

/**
 * The `class` label of `outboxx_postgres_errors_total`: the SQLSTATE class
 * name (errcodes-appendix), `connection` when no SQLSTATE came back (refused,
 * reset, timed out, TLS), `other` for classes not listed here.
 */
export const postgresErrorClass = (code: string | undefined): string => {
  if (code === undefined || !/^[0-9A-Z]{5}$/.test(code)) return "connection"
  return classNames[code.slice(0, 2)] ?? "other"
}
