import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import { databaseOf, hostsOf, hostUrls, pgClientConfig, targetSessionAttrsOf } from "../../src/postgres/connection.js"

describe("several hosts in postgres.url (libpq syntax)", () => {
  const url = "postgres://app:s3cret@10.0.0.1:5432,[::1]:5433,db3/shop?target_session_attrs=read-write&sslmode=disable"

  it("splits into one URL per host, keeping the user, database and parameters", () => {
    expect(hostUrls(url)).toEqual([
      "postgres://app:s3cret@10.0.0.1:5432/shop?target_session_attrs=read-write&sslmode=disable",
      "postgres://app:s3cret@[::1]:5433/shop?target_session_attrs=read-write&sslmode=disable",
      "postgres://app:s3cret@db3/shop?target_session_attrs=read-write&sslmode=disable"
    ])
    expect(hostUrls("postgres://a@h:1/db")).toEqual(["postgres://a@h:1/db"])
  })

  it("names the hosts without the password, and reads the database and target_session_attrs", () => {
    const redacted = Redacted.make(url)
    expect(hostsOf(redacted)).toEqual(["10.0.0.1:5432", "[::1]:5433", "db3:5432"])
    expect(databaseOf(redacted)).toBe("shop")
    expect(targetSessionAttrsOf(redacted)).toBe("read-write")
    expect(targetSessionAttrsOf(Redacted.make("postgres://h/db"))).toBe("any")
    expect(pgClientConfig(redacted)).toMatchObject({ host: "10.0.0.1", port: 5432, database: "shop", user: "app" })
  })
})

describe("check: failover advice", () => {
  it("warns before 17, without a failover slot, and without synchronized_standby_slots; silent with no standby", async () => {
    const { failoverAdvice } = await import("../../src/cli/check/postgresChecks.js")
    expect(failoverAdvice(160004, 0, false, "")).toBeUndefined()
    expect(failoverAdvice(160004, 1, false, "")).toMatchObject({ status: "warn", detail: expect.stringMatching(/before PostgreSQL 17 a logical slot is not kept/) })
    expect(failoverAdvice(170000, 2, false, "")).toMatchObject({ status: "warn", fix: expect.stringMatching(/slot_failover = true/) })
    expect(failoverAdvice(170000, 1, true, "")).toMatchObject({ status: "warn", fix: expect.stringMatching(/synchronized_standby_slots/) })
    expect(failoverAdvice(170000, 1, true, "sb")).toMatchObject({ status: "ok" })
  })
})
