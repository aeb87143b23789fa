/**
 * The kafkajs client configuration (`kafka.client = "kafkajs"`): brokers,
 * SASL, TLS, timeouts, retry bounds, compression codec and logging, from the
 * `kafka` settings. The Kafka object is made on first use.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Kafka, KafkaConfig, SASLOptions } from "kafkajs"
import type { Compression, KafkaSaslSettings } from "../../../config/model.js"
import { KafkaConfigError } from "../errors.js"
import type { BackendContext } from "../KafkaBackend.js"
import { kafkaRetry, kafkaTimeouts } from "../KafkaClient.js"
import { effectLogCreator, kafkajsLevelFor } from "./log.js"
import { kafkajsCompressionTypes as CompressionTypes, kafkajsModule } from "./module.js"

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

export interface KafkajsClient {
  /** Made on first use. */
  readonly kafka: () => Kafka
  /** The CompressionTypes value for produce requests. */
  readonly compression: number
}

export const makeKafkajsClient = Effect.fnUntraced(function*(context: BackendContext) {
  const { settings, tls } = context
  const compression = yield* resolveCompression(settings.compression)
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    connectionTimeout: kafkaTimeouts.connectionTimeoutMs,
    authenticationTimeout: kafkaTimeouts.authenticationTimeoutMs,
    requestTimeout: kafkaTimeouts.requestTimeoutMs,
    enforceRequestTimeout: true,
    retry: kafkaRetry,
    logLevel: kafkajsLevelFor(context.minimumLogLevel),
    logCreator: effectLogCreator(context.logContext)
  }
  if (tls !== undefined) config.ssl = tls
  if (settings.sasl !== undefined) config.sasl = saslOptions(settings.sasl)
  let kafka: Kafka | undefined
  return {
    kafka: () => kafka ??= new (kafkajsModule().Kafka)(config),
    compression
  } satisfies KafkajsClient
})
