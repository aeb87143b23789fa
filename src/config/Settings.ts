/**
 * Loading the configuration file and providing it as the `Settings` service.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFile } from "node:fs/promises"
import * as Path from "node:path"
import { ConfigError, ConfigIssue } from "./ConfigError.js"
import { decodeSettings } from "./decode.js"
import { checkFiles } from "./fileChecks.js"
import type { Environment } from "./interpolate.js"
import type { OutboxxSettings } from "./model.js"

export const configPathVariable = "OUTBOXX_CONFIG"
export const defaultConfigPath = "outboxx.toml"

/** `-c/--config`, else env OUTBOXX_CONFIG, else ./outboxx.toml (relative paths stay as given). */
export const resolveConfigPath = (flag: string | undefined, env: Environment = process.env): string => {
  if (flag !== undefined && flag !== "") return flag
  const fromEnv = env[configPathVariable]
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv
  return defaultConfigPath
}

const readProblem = (path: string, cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
  const absolute = Path.resolve(path)
  switch (code) {
    case "ENOENT":
      return `file not found: ${absolute}`
    case "EACCES":
    case "EPERM":
      return `permission denied reading ${absolute}`
    case "EISDIR":
      return `expected a file, found a directory: ${absolute}`
    default:
      return `cannot read ${absolute}: ${cause instanceof Error ? cause.message : String(cause)}`
  }
}

/** Reads and decodes the configuration file; every problem ends up in one ConfigError. */
export const loadSettings = Effect.fn("loadSettings")(function*(
  path: string,
  env: Environment = process.env
): Effect.fn.Return<OutboxxSettings, ConfigError> {
  const text = yield* Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) =>
      new ConfigError({ file: path, issues: [new ConfigIssue({ path: "", message: readProblem(path, cause) })] })
  })
  const settings = yield* Effect.fromResult(decodeSettings(text, { path, env }))
  const issues = checkFiles(settings)
  if (issues.length > 0) return yield* new ConfigError({ file: path, issues })
  return settings
})

export class Settings extends Context.Service<Settings, OutboxxSettings>()("outboxx/Settings") {
  /** Settings read from a file (and the process environment) when the layer is built. */
  static layerFromFile(path: string, env: Environment = process.env): Layer.Layer<Settings, ConfigError> {
    return Layer.effect(Settings, loadSettings(path, env))
  }

  /** Settings given as a value (tests, embedding apps). */
  static layer(settings: OutboxxSettings): Layer.Layer<Settings> {
    return Layer.succeed(Settings, settings)
  }
}
