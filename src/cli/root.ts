/**
 * The `outboxx` root command and the flags every subcommand shares.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { loadSettings, resolveConfigPath } from "../config/index.js"

export const root = Command.make("outboxx").pipe(
  Command.withSharedFlags({
    config: Flag.String("config").pipe(
      Flag.withAlias("c"),
      Flag.withDescription("Configuration file (default: $OUTBOXX_CONFIG, else ./outboxx.toml)"),
      Flag.optional
    )
  }),
  Command.withDescription("PostgreSQL change-data-capture to Kafka over logical replication (pgoutput)")
)

/** `--json`: machine-readable output on stdout. */
export const jsonFlag = Flag.Boolean("json").pipe(
  Flag.withDescription("Print machine-readable JSON"),
  Flag.withDefault(false)
)

/** The config file this invocation uses: -c/--config, else $OUTBOXX_CONFIG, else ./outboxx.toml. */
export const configPath = Effect.map(root, (flags) => resolveConfigPath(Option.getOrUndefined(flags.config)))

/** Loads the settings for this invocation (a ConfigError ends the process with exit code 2). */
export const loadConfiguredSettings = Effect.flatMap(configPath, (path) => loadSettings(path))
