/**
 * Routes kafkajs' internal logs through Effect's logger (so they share the
 * daemon's format, level and annotations) instead of kafkajs' console logger.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { LogLevel as EffectLogLevel } from "effect/LogLevel"
import type { LogEntry, logCreator } from "kafkajs"
import { kafkajsLogLevel as logLevel } from "./module.js"

/** kafkajs' own threshold for a given Effect minimum level (kafkajs skips building filtered entries). */
export const kafkajsLevelFor = (minimum: EffectLogLevel): number => {
  switch (minimum) {
    case "All":
    case "Trace":
    case "Debug":
      return logLevel.DEBUG
    case "Info":
      return logLevel.INFO
    case "Warn":
      return logLevel.WARN
    case "Error":
    case "Fatal":
      return logLevel.ERROR
    case "None":
      return logLevel.NOTHING
  }
}

/**
 * kafkajs logs ERROR on every internal retry attempt ("Failed to send
 * messages", "Connection error"); the outcome reaches the pipeline as a typed
 * KafkaSendError that it logs and acts upon, so these are warnings here.
 */
const severityFor = (level: number): "Warn" | "Info" | "Debug" =>
  level <= logLevel.WARN ? "Warn" : level === logLevel.INFO ? "Info" : "Debug"

/** Messages that are expected with our settings and only add noise above debug. */
const expectedNoise = [
  // We bound the idempotent producer's retries on purpose (see docs/kafka.md).
  "Limiting retries for the idempotent producer"
]

/** Keys in kafkajs' log extras that could carry credentials or key material. */
const secretKey = /pass|secret|token|sasl|ssl|tls|credential|cert|^key$|^ca$|authentication/i

/** Keeps scalar extras (broker, topic, retryCount, error, ...) and drops anything secret-looking. */
export const safeExtras = (log: LogEntry["log"]): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(log)) {
    // Stacks of socket errors say nothing the message does not, and bloat every retry line.
    if (k === "message" || k === "timestamp" || k === "logger" || k === "stack" || secretKey.test(k)) continue
    if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v
    else if (Array.isArray(v) && v.every((x) => typeof x === "string" || typeof x === "number")) out[k] = v
  }
  return out
}

/**
 * A kafkajs `logCreator` that emits each entry as an Effect log with the
 * context captured where the Kafka client is built (its loggers and
 * annotations), annotated with `kafkajs: <namespace>`.
 */
export const effectLogCreator =
  (context: Context.Context<never>): logCreator =>
  () =>
  (entry: LogEntry) => {
    const message = entry.log.message
    const severity = expectedNoise.some((m) => message.startsWith(m)) ? "Debug" : severityFor(entry.level)
    const log = Effect.logWithLevel(severity)(`kafkajs: ${message}`, safeExtras(entry.log)).pipe(
      Effect.annotateLogs({ kafkajs: entry.namespace || "client" })
    )
    Effect.runForkWith(context)(log)
  }
