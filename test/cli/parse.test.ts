/**
 * The command tree in-process: which argument lists parse, and the exit code
 * each outcome maps to. (The built binary is exercised in test/e2e/cli.test.ts.)
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { exitCodeOfExit, runCli } from "../../src/cli/index.js"

const lines: Array<string> = []
const capture = (...args: ReadonlyArray<unknown>) => {
  lines.push(args.map(String).join(" "))
}
// Keep help and errors out of the test output, and let the tests look at them.
const quietConsole: Console.Console = { ...globalThis.console, log: capture, error: capture, info: capture, warn: capture }

const exitCode = (args: ReadonlyArray<string>) =>
  runCli(args).pipe(
    Effect.exit,
    Effect.map(exitCodeOfExit),
    Effect.provideService(Console.Console, quietConsole),
    Effect.provide(NodeServices.layer)
  )

describe("outboxx argument parsing", () => {
  it.effect("--help and --version succeed", () =>
    Effect.gen(function*() {
      lines.length = 0
      assert.strictEqual(yield* exitCode(["--help"]), 0)
      assert.isTrue(lines.some((l) => l.includes("slot") && l.includes("check")))
      lines.length = 0
      assert.strictEqual(yield* exitCode(["--version"]), 0)
      assert.isTrue(lines.some((l) => /outboxx v\d+\.\d+\.\d+/.test(l)))
    }))

  it.effect("an unknown subcommand, an unknown flag or no subcommand is a usage error (2)", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* exitCode(["bogus"]), 2)
      assert.strictEqual(yield* exitCode(["check", "--bogus"]), 2)
      assert.strictEqual(yield* exitCode([]), 2)
      assert.strictEqual(yield* exitCode(["snapshot"]), 2) // --table is required
    }))

  it.effect("a missing configuration file is a configuration error (2), before or after the subcommand", () =>
    Effect.gen(function*() {
      lines.length = 0
      assert.strictEqual(yield* exitCode(["check", "-c", "/nonexistent/outboxx.toml"]), 2)
      assert.include(lines.join("\n"), "/nonexistent/outboxx.toml: file not found")
      assert.strictEqual(yield* exitCode(["status", "--config", "/nonexistent/outboxx.toml"]), 2)
      assert.strictEqual(yield* exitCode(["slot", "drop", "--yes", "-c", "/nonexistent/outboxx.toml"]), 2)
    }))

  it.effect("snapshot reads the configuration first: a missing file is exit 2", () =>
    Effect.gen(function*() {
      lines.length = 0
      assert.strictEqual(yield* exitCode(["snapshot", "--table", "public.orders", "-c", "/nonexistent/outboxx.toml"]), 2)
      assert.include(lines.join("\n"), "/nonexistent/outboxx.toml: file not found")
    }))
})
