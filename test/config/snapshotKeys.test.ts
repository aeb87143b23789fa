import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeSettings } from "../../src/config/decode.js"

const text = (postgresExtra: string) => `
[postgres]
url = "postgres://u@127.0.0.1/db"
${postgresExtra}
[kafka]
brokers = ["127.0.0.1:9092"]
[[streams]]
name = "s"
tables = ["orders"]
`

describe("postgres.snapshot_chunk_size / snapshot_parallelism", () => {
  it("default to 10000 rows and 4 tables at once", () => {
    const decoded = decodeSettings(text(""), { path: "t.toml", env: {} })
    if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
    expect(decoded.success.postgres.snapshotChunkSize).toBe(10000)
    expect(decoded.success.postgres.snapshotParallelism).toBe(4)
  })

  it("take positive integers", () => {
    const decoded = decodeSettings(text("snapshot_chunk_size = 500\nsnapshot_parallelism = 1"), { path: "t.toml", env: {} })
    if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
    expect(decoded.success.postgres.snapshotChunkSize).toBe(500)
    expect(decoded.success.postgres.snapshotParallelism).toBe(1)
  })

  it("reject zero and fractions, naming the key", () => {
    for (const bad of ["snapshot_chunk_size = 0", "snapshot_parallelism = 1.5"]) {
      const decoded = decodeSettings(text(bad), { path: "t.toml", env: {} })
      expect(Result.isFailure(decoded)).toBe(true)
      if (Result.isFailure(decoded)) expect(decoded.failure.message).toContain(`postgres.${bad.split(" ")[0]}`)
    }
  })
})
