/**
 * The configured kafkajs client shared by the producer and the topic admin
 * (the @platformatic/kafka producer takes its options from `settings` and `tls`):
 * brokers, SASL, TLS, timeouts, retry bounds, compression codec and logging,
 * all derived from `OutboxxSettings.kafka` once at startup.
 */
import { readFile } from "node:fs/promises"
import type { ConnectionOptions } from "node:tls"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import type { Kafka, KafkaConfig, RetryOptions, SASLOptions } from "kafkajs"
import type { Compression, KafkaSaslSettings, KafkaSettings, KafkaTlsSettings } from "../../config/model.js"
import { KafkaConfigError } from "./errors.js"
import { kafkajsCompressionTypes as CompressionTypes, kafkajsModule } from "./kafkajsModule.js"
import { effectLogCreator, kafkajsLevelFor } from "./kafkaLog.js"

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
export const kafkaRetry: RetryOptions = {
  retries: 3,
  initialRetryTime: 300,
  maxRetryTime: 3_000,
  multiplier: 2,
  factor: 0.2
}

const codecPackage: Record<Compression, string> = {
  none: "",
  gzip: "",
  snappy: "kafkajs-snappy",
  lz4: "kafkajs-lz4"
}

const compressionType: Record<Compression, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4
}

/**
 * The kafkajs compression type for a setting. kafkajs ships none and gzip; a
 * snappy/lz4 codec must be registered in `CompressionCodecs` by the host
 * (e.g. `CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec` from
 * kafkajs-snappy). Without one we fail at startup instead of at the first send.
 */
export const resolveCompression = (compression: Compression): Effect.Effect<number, KafkaConfigError> =>
  Effect.suspend(() => {
    const type = compressionType[compression]
    if (type === CompressionTypes.None || type === CompressionTypes.GZIP) return Effect.succeed(type)
    const lookup = (kafkajsModule().CompressionCodecs as Record<number, () => unknown>)[type]
    try {
      lookup?.()
      return Effect.succeed(type)
    } catch {
      return Effect.fail(
        new KafkaConfigError({
          path: "kafka.compression",
          reason:
            `compression "${compression}" needs the ${codecPackage[compression]} codec package, which is not installed; ` +
            `use "gzip" or "none"`
        })
      )
    }
  })

const saslOptions = (sasl: KafkaSaslSettings): SASLOptions => {
  // Unwrapped only here, where the secret is handed to kafkajs.
  const password = Redacted.value(sasl.password)
  switch (sasl.mechanism) {
    case "plain":
      return { mechanism: "plain", username: sasl.username, password }
    case "scram-sha-256":
      return { mechanism: "scram-sha-256", username: sasl.username, password }
    case "scram-sha-512":
      return { mechanism: "scram-sha-512", username: sasl.username, password }
  }
}

const readPem = (path: string, key: string) =>
  Effect.tryPromise({
    try: () => readFile(path, "utf8"),
    catch: (cause) =>
      new KafkaConfigError({
        path: `kafka.tls.${key}`,
        reason: `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`
      })
  })

/** TLS options for kafkajs; PEM files are read once, at startup. */
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

/** `auto` picks platformatic where it runs (faster), else kafkajs. */
export const resolveClient = (
  client: KafkaSettings["client"],
  nodeVersion: string
): Effect.Effect<"platformatic" | "kafkajs", KafkaConfigError> => {
  if (client === "kafkajs") return Effect.succeed("kafkajs")
  if (platformaticSupported(nodeVersion)) return Effect.succeed("platformatic")
  if (client === "auto") return Effect.succeed("kafkajs")
  return Effect.fail(
    new KafkaConfigError({
      path: "kafka.client",
      reason: `"platformatic" needs Node >= 22.22 or >= 24.6 (this is ${nodeVersion}); use "auto" or "kafkajs", or upgrade Node`
    })
  )
}

/** A configured kafkajs client (made on first use) plus the settings it came from. */
export class KafkaClient extends Context.Service<
  KafkaClient,
  {
    readonly kafka: Kafka
    readonly settings: KafkaSettings
    /** kafkajs CompressionTypes value for produce requests (None unless `kafka.client = "kafkajs"`). */
    readonly compression: number
    /** TLS options from `kafka.tls`, PEM files already read; undefined = plaintext. */
    readonly tls: ConnectionOptions | undefined
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
        // @platformatic/kafka compresses snappy/lz4 itself; only kafkajs needs a codec package.
        const compression = settings.client === "kafkajs"
          ? yield* resolveCompression(settings.compression)
          : CompressionTypes.None
        const ssl = yield* tlsOptions(settings.tls)
        const minimum = yield* References.MinimumLogLevel
        const context = yield* Effect.context<never>()
        const config: KafkaConfig = {
          clientId: settings.clientId,
          brokers: [...settings.brokers],
          connectionTimeout: kafkaTimeouts.connectionTimeoutMs,
          authenticationTimeout: kafkaTimeouts.authenticationTimeoutMs,
          requestTimeout: kafkaTimeouts.requestTimeoutMs,
          enforceRequestTimeout: true,
          retry: kafkaRetry,
          logLevel: kafkajsLevelFor(minimum),
          logCreator: effectLogCreator(context)
        }
        if (ssl !== undefined) config.ssl = ssl
        if (settings.sasl !== undefined) config.sasl = saslOptions(settings.sasl)
        // kafkajs is loaded only when something uses this client (kafkajsModule.ts).
        let kafka: Kafka | undefined
        return KafkaClient.of({
          get kafka() {
            return kafka ??= new (kafkajsModule().Kafka)(config)
          },
          settings,
          compression,
          tls: ssl
        })
      })
    )
}
