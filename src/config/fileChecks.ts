/**
 * Files the configuration names (TLS certificates and keys) must be readable
 * when Outboxx starts: a missing one is a configuration error (exit 2) that
 * names the key, found before anything is created, rather than a failure
 * (or a hang) on the first connection.
 */
import { hostUrls } from "../postgres/connection.js"
import { accessSync, constants, statSync } from "node:fs"
import * as Redacted from "effect/Redacted"
import { ConfigIssue } from "./ConfigError.js"
import type { OutboxxSettings } from "./model.js"

const problemOf = (path: string): string | undefined => {
  try {
    if (!statSync(path).isFile()) return `expected a file, found something else at ${path}`
    accessSync(path, constants.R_OK)
    return undefined
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code === "ENOENT") return `file not found: ${path}`
    if (code === "EACCES" || code === "EPERM") return `permission denied reading ${path}`
    return `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
  }
}

/** Every named file that cannot be read, as issues at the keys naming them. */
export const checkFiles = (settings: OutboxxSettings): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  const tls = settings.kafka.tls
  if (tls !== undefined && tls.enabled) {
    for (const key of ["ca", "cert", "key"] as const) {
      const path = tls[key]
      const problem = path === undefined ? undefined : problemOf(path)
      if (problem !== undefined) issues.push(new ConfigIssue({ path: `kafka.tls.${key}`, message: problem }))
    }
  }
  const registryTls = settings.kafka.schemaRegistry?.tls
  if (registryTls !== undefined) {
    for (const key of ["ca", "cert", "key"] as const) {
      const path = registryTls[key]
      const problem = path === undefined ? undefined : problemOf(path)
      if (problem !== undefined) issues.push(new ConfigIssue({ path: `kafka.schema_registry.tls.${key}`, message: problem }))
    }
  }
  // libpq's file parameters in the URL; the URL itself (it may hold a password) is never shown.
  const params = new URL(hostUrls(Redacted.value(settings.postgres.url))[0]!).searchParams
  for (const name of ["sslrootcert", "sslcert", "sslkey"]) {
    const path = params.get(name)
    if (path === null || path === "") continue
    const problem = problemOf(path)
    if (problem !== undefined) issues.push(new ConfigIssue({ path: "postgres.url", message: `${name}: ${problem}` }))
  }
  const sslmode = params.get("sslmode")
  if (sslmode === "verify-ca" && (params.get("sslrootcert") ?? "") === "") {
    issues.push(new ConfigIssue({
      path: "postgres.url",
      message: "sslmode=verify-ca needs sslrootcert (the CA that signed the server's certificate)"
    }))
  }
  return issues
}
