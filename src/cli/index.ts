/**
 * The `outboxx` command line: the command tree, and the program main.ts runs.
 */
import * as Effect from "effect/Effect"
import * as CliConfig from "effect/cli/CliConfig"
import * as Command from "effect/cli/Command"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import { checkCommand } from "./check/command.js"
import { clusterCommand } from "./clusterCommand.js"
import { reportFailure } from "./errors.js"
import { root } from "./root.js"
import { runCommand, tailCommand } from "./run.js"
import { outboxCommand } from "./outbox.js"
import { stateCommand } from "./state.js"
import { slotCommand } from "./slot.js"
import { snapshotCommand } from "./snapshot.js"
import { statusCommand } from "./status.js"
import { version } from "../version.js"

export { ExitCode, exitCodeOf, exitCodeOfExit, teardown } from "./errors.js"

export const outboxx = root.pipe(
  Command.withSubcommands([runCommand, checkCommand, statusCommand, snapshotCommand, slotCommand, tailCommand, outboxCommand, stateCommand, clusterCommand])
)

/**
 * Parses `args` and runs the command; failures are printed on stderr (once)
 * and left in the error channel for the exit code. Only --help and
 * --version are built in (no wizard, completions or --log-level: the log
 * level comes from the config file).
 */
export const runCli = (args: ReadonlyArray<string>) =>
  Command.runWith(outboxx, { version })(args).pipe(
    reportFailure,
    Effect.provide(CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version] }))
  )
