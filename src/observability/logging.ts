/**
 * The process's loggers, chosen by `[log]`: one JSON object per line (the
 * default, for log shippers) or a human "pretty" form. Secrets stay
 * `Redacted` all the way to here, and both formats print those as
 * `<redacted>`.
 *
 * Logs go to stdout, except for commands whose stdout is data (`tail`,
 * `check --json`): those pass `{ stderr: true }`.
 */
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import type { LogSettings } from "../config/model.js"

const levels: Record<LogSettings["level"], LogLevel.LogLevel> = {
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error"
}

export const toLogLevel = (level: LogSettings["level"]): LogLevel.LogLevel => levels[level]

export interface LoggingOptions {
  /** Write to stderr instead of stdout. */
  readonly stderr?: boolean
}

const loggerFor = (format: LogSettings["format"], stderr: boolean): Logger.Logger<unknown, void> => {
  if (format === "json") {
    return stderr ? Logger.withConsoleError(Logger.formatJson) : Logger.consoleJson
  }
  return stderr ? Logger.withConsoleError(Logger.formatSimple) : Logger.consolePretty()
}

/** Replaces the default logger and sets the minimum level. */
export const loggingLayer = (log: LogSettings, options: LoggingOptions = {}): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([loggerFor(log.format, options.stderr === true)]),
    Layer.succeed(References.MinimumLogLevel, toLogLevel(log.level))
  )
