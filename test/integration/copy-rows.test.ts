/**
 * copyRows against the real server, through the CopyData tap
 * (postgres/copyData.ts): rows larger than a socket read, a COPY that fails
 * half way, notices between rows, and the connection still usable by pg
 * afterwards, every time.
 */
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { copyDataTap } from "../../src/postgres/copyData.js"
import { copyRows } from "../../src/snapshot/copyRows.js"
import { createTestDatabase, type TestDatabase } from "../support/servers.js"

let db: TestDatabase
let client: pg.Client

beforeAll(async () => {
  db = await createTestDatabase("copy_rows")
  client = new pg.Client({ connectionString: db.url })
  await client.connect()
  await client.query(`
    CREATE FUNCTION noisy(n int) RETURNS int LANGUAGE plpgsql AS $$
    BEGIN
      IF n % 100 = 0 THEN RAISE NOTICE 'row %', n; END IF;
      RETURN n;
    END $$`)
})

afterAll(async () => {
  await client?.end()
  await db?.drop()
})

const copied = async (select: string, columns: number) => {
  const rows: Array<Array<unknown>> = []
  const result = await copyRows(client, select, columns, (row) => rows.push(row.values()))
  return { rows, count: result.rows }
}

describe("copyRows on a real connection (the CopyData tap)", () => {
  it("reads COPY's rows off the socket, values of 300 KB across many reads included, and pg keeps the connection", async () => {
    expect(copyDataTap(client)).toBeDefined()
    const big = "é\t\\\n".repeat(75_000) // escapes and non-ASCII, 300,000 characters
    const { rows, count } = await copied(
      `SELECT g, CASE WHEN g % 50 = 0 THEN $$${big}$$ ELSE 'v' || g END, NULL::text FROM generate_series(1, 1000) AS g`,
      3
    )
    expect(count).toBe(1000)
    expect(rows[0]).toEqual(["1", "v1", null])
    expect(rows[49]![1] === big).toBe(true)
    expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    // pg's own path on the same connection: a query with rows, then another COPY.
    const after = await client.query("SELECT count(*)::int AS n FROM generate_series(1, 70000)")
    expect(after.rows[0].n).toBe(70000)
    expect((await copied("SELECT 'again'", 1)).rows).toEqual([["again"]])
  })

  it("a COPY that fails half way rejects with the server's error, and the connection answers the next query", async () => {
    const failed = await copied("SELECT 1 / (g - 5000) FROM generate_series(1, 10000) AS g", 1).catch((error: unknown) => error)
    expect(failed).toBeInstanceOf(Error)
    expect((failed as { code?: string }).code).toBe("22012") // division_by_zero
    expect((await client.query("SELECT 2 AS two")).rows[0].two).toBe(2)
  })

  it("notices sent between rows reach pg's notice event, and every row arrives", async () => {
    const notices: Array<string> = []
    const onNotice = (notice: { message?: string | undefined }) => {
      notices.push(notice.message ?? "")
    }
    client.on("notice", onNotice)
    try {
      const { count } = await copied("SELECT noisy(g) FROM generate_series(1, 1000) AS g", 1)
      expect(count).toBe(1000)
      expect(notices).toEqual(Array.from({ length: 10 }, (_, i) => `row ${(i + 1) * 100}`))
    } finally {
      client.removeListener("notice", onNotice)
    }
  })
})
