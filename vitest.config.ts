import { defineConfig } from "vitest/config"

// Two projects: pure unit tests (no servers) and tests against the real local
// PostgreSQL and Kafka that dev/ starts (the global setup brings them up).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/integration/**", "test/e2e/**"]
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
          globalSetup: ["test/support/globalSetup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: true,
          maxWorkers: 2
        }
      }
    ]
  }
})
