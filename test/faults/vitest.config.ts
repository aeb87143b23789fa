import { defineConfig } from "vitest/config"

// The fault suite: real processes against its OWN PostgreSQL and Kafka (other
// ports, data under $TMPDIR/outboxx-faults), since it restarts, stops and
// freezes them. Run: npx vitest run --config test/faults/vitest.config.ts
export default defineConfig({
  test: {
    name: "faults",
    include: ["test/faults/**/*.fault.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
    sequence: { concurrent: false }
  }
})
