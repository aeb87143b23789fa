import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as CliError from "effect/cli/CliError"
import { describe, expect, it } from "vitest"
import { CommandFailed, describeCause, errorText, exitCodeOf, exitCodeOfExit, UsageError } from "../../src/cli/errors.js"
import { ConfigError, ConfigIssue } from "../../src/config/ConfigError.js"
import { PostgresError } from "../../src/postgres/Postgres.js"

const configError = new ConfigError({
  file: "outboxx.toml",
  issues: [new ConfigIssue({ path: "streams[1].topic", message: "expected a topic template" })]
})

describe("exit codes", () => {
  it("maps a clean end and an interruption (SIGTERM/SIGINT) to 0", () => {
    expect(exitCodeOfExit(Exit.void)).toBe(0)
    expect(exitCodeOfExit(Exit.interrupt(1))).toBe(0)
  })

  it("maps usage and configuration errors to 2", () => {
    expect(exitCodeOfExit(Exit.fail(configError))).toBe(2)
    expect(exitCodeOfExit(Exit.fail(new UsageError({ message: "needs --yes" })))).toBe(2)
    const unknownSubcommand = new CliError.UnknownSubcommand({ subcommand: "bogus", parent: ["outboxx"], suggestions: [] })
    expect(exitCodeOf(new CliError.ShowHelp({ commandPath: ["outboxx"], errors: [unknownSubcommand] }))).toBe(2)
    // No subcommand at all: help is shown, and it is still a usage error.
    expect(exitCodeOf(new CliError.ShowHelp({ commandPath: ["outboxx"], errors: [] }))).toBe(2)
  })

  it("maps runtime failures and defects to 1", () => {
    expect(exitCodeOfExit(Exit.fail(new CommandFailed({ message: "" })))).toBe(1)
    expect(exitCodeOfExit(Exit.fail(new PostgresError({ operation: "connect", message: "refused", cause: null })))).toBe(1)
    expect(exitCodeOfExit(Exit.die(new Error("boom")))).toBe(1)
  })
})

describe("error text on stderr", () => {
  it("prints a configuration error with the file and key path", () => {
    expect(errorText(configError)).toBe("outboxx.toml: streams[1].topic: expected a topic template")
  })

  it("prints nothing more for a report already printed, or for help the parser rendered", () => {
    expect(errorText(new CommandFailed({ message: "" }))).toBeUndefined()
    expect(errorText(new CliError.ShowHelp({ commandPath: ["outboxx"], errors: [] }))).toBeUndefined()
  })

  it("prints nothing for an interruption", () => {
    expect(describeCause(Cause.interrupt(1))).toBeUndefined()
    expect(describeCause(Cause.fail(new UsageError({ message: "refusing" })))).toBe("refusing")
  })
})
