/**
 * Vitest global setup of the integration project: makes sure the local
 * PostgreSQL and Kafka are running (`bash dev/up.sh`, idempotent and fast when
 * they already are) and exports their settings to the test workers.
 * Set OUTBOXX_TEST_SKIP_UP=1 when the servers are managed elsewhere
 * (dev/test.sh starts them itself before running vitest).
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

export default function setup(): void {
  if (process.env.OUTBOXX_TEST_SKIP_UP === "1") return
  const result = spawnSync("bash", [path.join(repoRoot, "dev", "up.sh")], {
    cwd: repoRoot,
    encoding: "utf8",
    // A cold start downloads Kafka's jars with Maven.
    timeout: 600_000
  })
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(
      [
        `dev/up.sh failed (${result.error?.message ?? `exit ${result.status}, signal ${result.signal}`});` +
          " the integration tests need the local PostgreSQL and Kafka.",
        "---- stdout ----",
        result.stdout,
        "---- stderr ----",
        result.stderr
      ].join("\n")
    )
  }
  // KEY=value lines (OUTBOXX_TEST_PG_URL, OUTBOXX_TEST_KAFKA_BROKERS): workers
  // inherit this process's environment.
  for (const line of result.stdout.split("\n")) {
    const match = /^(OUTBOXX_[A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (match !== null) process.env[match[1]!] = match[2]!
  }
}
