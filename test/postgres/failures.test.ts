import { describe, expect, it } from "vitest"
import { isPermanentPostgresCause, isPermanentPostgresFailure } from "../../src/postgres/failures.js"

describe("isPermanentPostgresFailure: the one classification of PostgreSQL failures", () => {
  it("stops on what reconnecting cannot fix", () => {
    for (const code of ["28P01", "28000", "42501", "42P01", "42704", "3D000", "3F000", "0A000", "22021", "XX000", "55000"]) {
      expect(isPermanentPostgresFailure(code, "x"), code).toBe(true)
    }
  })

  it("waits out a slot in use, a lock, a shutdown, a lost connection and recovery", () => {
    for (const code of ["55006", "55P03", "57P01", "57P03", "08006", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", undefined]) {
      expect(isPermanentPostgresFailure(code, "x"), String(code)).toBe(false)
    }
  })

  it("stops on TLS that cannot succeed as configured", () => {
    expect(isPermanentPostgresFailure("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate")).toBe(true)
    expect(isPermanentPostgresFailure("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match")).toBe(true)
    expect(isPermanentPostgresFailure(undefined, "The server does not support SSL connections")).toBe(true)
    expect(isPermanentPostgresCause(Object.assign(new Error("self-signed certificate in certificate chain"), { code: "SELF_SIGNED_CERT_IN_CHAIN" })))
      .toBe(true)
    expect(isPermanentPostgresCause(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(false)
  })
})
