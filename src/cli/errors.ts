/**
 * How a command ends, as exit codes (INTERFACE.md):
 *   0  clean stop, including SIGTERM / SIGINT
 *   1  runtime failure (PostgreSQL / Kafka trouble, check found problems, ...)
 *   2  usage or configuration error (bad flag, unknown subcommand, ConfigError)
 *
 * Every failure is reported once, on stderr, by `reportFailure`; the runtime's
 * own error logging is turned off in main.ts.
 */
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import * as CliError from "effect/cli/CliError"

export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const

/** The command line is wrong in a way the parser cannot see (e.g. `slot drop` without `--yes`). */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String
}) {}

/**
 * The command ran and failed; `message` says why ("" when the command already
 * printed its own report, like `check` with FAIL lines).
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  message: Schema.String
}) {}

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

/** The exit code for a failure value. */
export const exitCodeOf = (error: unknown): number => {
  if (CliError.isCliError(error)) {
    // ShowHelp without errors = no subcommand given: still a usage error. `--help` itself never fails.
    return error._tag === "UserError" ? ExitCode.failure : ExitCode.usage
  }
  switch (tagOf(error)) {
    case "ConfigError":
    case "UsageError":
    // The publication cannot work as configured (ownership, partitions, replica identity): fix the config or the schema.
    case "PublicationError":
      return ExitCode.usage
    default:
      return ExitCode.failure
  }
}

/** What to print on stderr for a failure value; undefined when it was already shown. */
export const errorText = (error: unknown): string | undefined => {
  if (CliError.isCliError(error)) {
    // The CLI parser has rendered help and its errors itself.
    return error._tag === "UserError" ? error.message : undefined
  }
  const tag = tagOf(error)
  if (tag === "CommandFailed") {
    const message = (error as CommandFailed).message
    return message === "" ? undefined : message
  }
  if (tag === "ConfigError") return (error as Error).message
  if (tag === "PostgresError") {
    const e = error as { operation: string; message: string }
    return `PostgreSQL: ${e.operation}: ${e.message}`
  }
  if (error instanceof Error && error.message !== "") return error.message
  return String(error)
}

/** The cause as the one thing stderr should show. */
export const describeCause = (cause: Cause.Cause<unknown>): string | undefined => {
  if (Cause.hasInterruptsOnly(cause)) return undefined
  const failure = cause.reasons.find(Cause.isFailReason)
  if (failure !== undefined) return errorText(failure.error)
  return Cause.pretty(cause)
}

/** Prints the failure on stderr (once) and lets it through unchanged. */
export const reportFailure = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tapCause(program, (cause) => {
    const text = describeCause(cause)
    return text === undefined ? Effect.void : Console.error(text)
  })

/** Exit code for a whole run: interruption (SIGTERM/SIGINT) is a clean stop. */
export const exitCodeOfExit = <A, E>(exit: Exit.Exit<A, E>): number => {
  if (Exit.isSuccess(exit)) return ExitCode.ok
  if (Cause.hasInterruptsOnly(exit.cause)) return ExitCode.ok
  const failure = exit.cause.reasons.find(Cause.isFailReason)
  return failure !== undefined ? exitCodeOf(failure.error) : ExitCode.failure
}

/** For NodeRuntime.runMain. */
export const teardown: Runtime.Teardown = (exit, onExit) => onExit(exitCodeOfExit(exit))
