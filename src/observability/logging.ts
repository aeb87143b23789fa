/**
 * The process's loggers, chosen by `[log]`: one JSON object per line (the
 * default, for log shippers) or a human "pretty" form for terminals. Secrets
 * stay `Redacted` all the way to here, and both formats print those as
 * `<redacted>`.
 *
 * The JSON line is flat, with the same keys on every line, so an indexer
 * (Loki, Elasticsearch, CloudWatch) maps it once:
 *   {"timestamp","level","message", <fields>, "trace_id","span_id", "error"}
 * - `message` is always a string: the log call's strings joined by a space.
 * - Fields: the log call's object arguments and the fiber's annotations
 *   (`stream`, `slot`, `lsn`, `table`, `xid`, ...), at the top level; a field
 *   named like one of the fixed keys gets a `field.` prefix.
 * - `trace_id` / `span_id` of the current span when tracing is on, so a log
 *   line leads to its trace in Jaeger.
 * - `error`: the cause, pretty-printed (stack included), when there is one.
 *
 * Logs go to stdout, except for commands whose stdout is data (`tail`,
 * `check --json`): those pass `{ stderr: true }`.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import type { LogSettings } from "../config/model.js"
import { TracingEnabled } from "./tracing.js"

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

const fixedKeys = new Set(["timestamp", "level", "message", "trace_id", "span_id", "error"])

const setField = (line: Record<string, unknown>, key: string, value: unknown): void => {
  line[fixedKeys.has(key) ? `field.${key}` : key] = Inspectable.toJson(value)
}

/** One log call as a flat record (exported for tests). */
export const jsonLine = Logger.make<unknown, Record<string, unknown>>(({ cause, date, fiber, logLevel, message }) => {
  const line: Record<string, unknown> = { timestamp: date.toISOString(), level: logLevel.toLowerCase(), message: "" }
  const texts: Array<string> = []
  for (const part of Array.isArray(message) ? message : [message]) {
    if (typeof part === "string") texts.push(part)
    else if (part !== null && typeof part === "object" && !(part instanceof Error) && !Array.isArray(part)) {
      for (const [key, value] of Object.entries(part)) setField(line, key, value)
    } else texts.push(String(Inspectable.toJson(part)))
  }
  line.message = texts.join(" ")
  for (const [key, value] of Object.entries(fiber.getRef(References.CurrentLogAnnotations))) setField(line, key, value)
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  if (span !== undefined && span._tag === "Span" && span.sampled && fiber.getRef(TracingEnabled)) {
    line.trace_id = span.traceId
    line.span_id = span.spanId
  }
  if (cause.reasons.length > 0) line.error = Cause.pretty(cause)
  return line
})

const jsonLogger = (stderr: boolean): Logger.Logger<unknown, void> => {
  const write = stderr ? process.stderr : process.stdout
  return Logger.map(jsonLine, (line) => {
    write.write(`${JSON.stringify(line)}\n`)
  })
}

const loggerFor = (format: LogSettings["format"], stderr: boolean): Logger.Logger<unknown, void> => {
  if (format === "json") return jsonLogger(stderr)
  return stderr ? Logger.withConsoleError(Logger.formatSimple) : Logger.consolePretty()
}

/** Where and how warnings from outside any fiber (Node's process warnings) are written; set by `loggingLayer`. */
let outOfBand: { format: LogSettings["format"]; stderr: boolean } = { format: "json", stderr: true }

/**
 * A Node process warning (a library's deprecation notice, say) as a log line
 * in the configured format, instead of a raw stderr line in the middle of the
 * JSON stream.
 */
export const logProcessWarning = (warning: Error): void => {
  const text = `${warning.name}: ${warning.message}`
  const out = outOfBand.stderr ? process.stderr : process.stdout
  out.write(
    outOfBand.format === "json"
      ? `${JSON.stringify({ timestamp: new Date().toISOString(), level: "warn", message: text, source: "node" })}\n`
      : `${new Date().toISOString()} WARN ${text}\n`
  )
}

/** Replaces the default logger and sets the minimum level. */
export const loggingLayer = (log: LogSettings, options: LoggingOptions = {}): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([loggerFor(log.format, options.stderr === true)]),
    Layer.succeed(References.MinimumLogLevel, toLogLevel(log.level)),
    Layer.effectDiscard(Effect.sync(() => {
      outOfBand = { format: log.format, stderr: options.stderr === true }
    }))
  )
