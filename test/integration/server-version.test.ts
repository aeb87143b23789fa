/**
 * The version matrix (dev/test.sh) runs suites against PostgreSQL 16, 17 and
 * 18 as well as 15: this says which server a run really used, so a matrix
 * row cannot pass against the wrong one.
 */
import { describe, expect, it } from "vitest"
import { pgAdminUrl, pgQuery } from "../support/servers.js"

describe("the PostgreSQL server under test", () => {
  it("is the major version OUTBOXX_DEV_PG_VERSION names (15 by default)", async () => {
    const [row] = await pgQuery<{ server_version_num: string }>(pgAdminUrl(), "SHOW server_version_num")
    expect(Math.floor(Number(row!.server_version_num) / 10000)).toBe(
      Number(process.env.OUTBOXX_DEV_PG_VERSION ?? "15")
    )
  })
})
