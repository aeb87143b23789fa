/**
 * The Kafka client: the `kafka` settings, TLS options (PEM files read once),
 * and the client library's backend (KafkaBackend.ts), loaded once at startup:
 * @platformatic/kafka, or kafkajs when `kafka.client = "kafkajs"`. Producer,
 * topic admin and transactional producer are all made from it.
 */
import { readFile } from "node:fs/promises"
import type { ConnectionOptions } from "node:tls"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import type { KafkaSettings, KafkaTlsSettings } from "../../config/model.js"
import { KafkaConfigError } from "./errors.js"
import type { KafkaBackend, KafkaLibrary } from "./KafkaBackend.js"

/**
 * Time bounds. A dead broker must fail a send within a bounded time: kafkajs
 * nests retriers (send -> cluster reconnect -> broker pool), so each level is
 * kept short; the pipeline adds its own Schedule-based retries and breaker.
 */
export const kafkaTimeouts = {
  /** TCP (+TLS) connect. */
  connectionTimeoutMs: 3_000,
  authenticationTimeoutMs: 10_000,
  /** Any single request round trip (enforced by kafkajs). */
  requestTimeoutMs: 15_000,
  /** How long the broker may wait for the in-sync replicas before answering a produce (acks=all). */
  produceAckTimeoutMs: 10_000,
  /** Upper bound used by the admin for create-topics / wait-for-leaders. */
  adminTimeoutMs: 10_000
} as const

/** ~0.3 + 0.6 + 1.2 s of backoff per retrier level: rides out a leader election, not an outage. */
export const kafkaRetry = {
  retries: 3,
  initialRetryTime: 300,
  maxRetryTime: 3_000,
  multiplier: 2,
  factor: 0.2
} as const

const readPem = (path: string, key: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) =>
      new KafkaConfigError({
        path: `kafka.tls.${key}`,
        reason: `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })

/** TLS options from `kafka.tls`; PEM files are read once, at startup. */
export const tlsOptions = Effect.fnUntraced(function*(tls: KafkaTlsSettings | undefined) {
  if (tls === undefined || !tls.enabled) return undefined
  const options: ConnectionOptions = { rejectUnauthorized: tls.rejectUnauthorized }
  if (tls.ca !== undefined) options.ca = [yield* readPem(tls.ca, "ca")]
  if (tls.cert !== undefined) options.cert = yield* readPem(tls.cert, "cert")
  if (tls.key !== undefined) options.key = yield* readPem(tls.key, "key")
  if ((options.cert === undefined) !== (options.key === undefined)) {
    return yield* new KafkaConfigError({
      path: "kafka.tls",
      reason: "cert and key go together (client certificate authentication needs both)"
    })
  }
  return options
})

/** @platformatic/kafka runs on Node >= 22.22 (22.x) or >= 24.6. */
export const platformaticSupported = (nodeVersion: string): boolean => {
  const [major = 0, minor = 0] = nodeVersion.split(".").map(Number)
  return major > 24 || (major === 24 && minor >= 6) || (major === 23) || (major === 22 && minor >= 22)
}

/**
 * `auto` picks platformatic where it runs (faster), else kafkajs, and says so:
 * on kafkajs a 1,000,000-row snapshot took 13.4 s and 16.6 CPU s instead of
 * 3.1 s and 3.0 (both on Node 24, 2026-12-06), a difference an operator
 * should not have to find in a profile.
 */
export const resolveClient = (
  client: KafkaSettings["client"],
  nodeVersion: string
): Effect.Effect<KafkaLibrary, KafkaConfigError> => {
  if (client === "kafkajs") return Effect.succeed("kafkajs")
  if (platformaticSupported(nodeVersion)) return Effect.succeed("platformatic")
  if (client === "auto") {
    return Effect.as(
      Effect.logWarning(
        `kafka.client = "auto": Node ${nodeVersion} cannot run @platformatic/kafka (it needs >= 22.22 or >= 24.6), ` +
          `so kafkajs is used, several times slower (docs/kafka.md); upgrade Node, or set kafka.client = "kafkajs" to choose it`
      ),
      "kafkajs" as const
    )
  }
  return Effect.fail(
    new KafkaConfigError({
      path: "kafka.client",
      reason: `"platformatic" needs Node >= 22.22 or >= 24.6 (this is ${nodeVersion}); use "auto" or "kafkajs", or upgrade Node`
    })
  )
}

/** Loads the backend of `library`; the other library is never loaded. */
const loadBackend = (library: KafkaLibrary) =>
  library === "kafkajs"
    ? Effect.promise(() => import("./kafkajs/index.js"))
    : Effect.promise(() => import("./platformatic/index.js"))

export class KafkaClient extends Context.Service<
  KafkaClient,
  {
    readonly settings: KafkaSettings
    /** TLS options from `kafka.tls`, PEM files already read; undefined = plaintext. */
    readonly tls: ConnectionOptions | undefined
    /** The client library in use. */
    readonly backend: KafkaBackend
  }
>()("outboxx/KafkaClient") {
  /** Builds the client from the `kafka` section of the settings (no connection is opened here). */
  static readonly layerWith = (settings: KafkaSettings): Layer.Layer<KafkaClient, KafkaConfigError> =>
    Layer.effect(
      KafkaClient,
      Effect.gen(function*() {
        if (settings.brokers.length === 0) {
          return yield* new KafkaConfigError({ path: "kafka.brokers", reason: "at least one broker is required" })
        }
        if (!Number.isFinite(settings.batchMaxBytes) || settings.batchMaxBytes <= 0) {
          return yield* new KafkaConfigError({ path: "kafka.batch_max_bytes", reason: "must be a positive number of bytes" })
        }
        const tls = yield* tlsOptions(settings.tls)
        const library = yield* resolveClient(settings.client, process.versions.node)
        const { makeBackend } = yield* loadBackend(library)
        const backend = yield* makeBackend({
          settings,
          tls,
          logContext: yield* Effect.context<never>(),
          minimumLogLevel: yield* References.MinimumLogLevel
        })
        return KafkaClient.of({ settings, tls, backend })
      })
    )
}
