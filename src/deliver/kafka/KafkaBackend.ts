/**
 * One Kafka client library behind the interfaces the rest of outboxx uses:
 * producing (ProduceTransport), topics, configs and committed reads
 * (AdminBackend), and transactions (TransactionBackend). @platformatic/kafka
 * (platformatic/) is the default; kafkajs (kafkajs/) is the option
 * `kafka.client = "kafkajs"`. KafkaClient loads the chosen one and only it:
 * nothing outside its folder imports a library.
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { LogLevel } from "effect/LogLevel"
import type { ConnectionOptions } from "node:tls"
import type { KafkaSettings } from "../../config/model.js"
import type { AdminBackend } from "./AdminBackend.js"
import type { KafkaConfigError, KafkaFailure } from "./errors.js"
import type { ProduceTransport } from "./ProduceTransport.js"
import type { TransactionBackend, TransactionOptions } from "./TransactionBackend.js"

export type KafkaLibrary = "platformatic" | "kafkajs"

export interface KafkaBackend {
  readonly name: KafkaLibrary
  /** A producer (idempotent, acks=all); connects on first use. */
  readonly transport: () => ProduceTransport
  /** Topic and cluster calls, and committed reads; connects on first use. */
  readonly admin: () => AdminBackend
  /** A transactional producer for `kafka.delivery = "exactly-once"`. */
  readonly transactions: (options: TransactionOptions) => TransactionBackend
  /** What a rejection of any of the above means. */
  readonly classify: (cause: unknown, options: { readonly createTopics: boolean }) => KafkaFailure
}

/** What a backend is made from: the settings, TLS options (PEM files read), and where library logs go. */
export interface BackendContext {
  readonly settings: KafkaSettings
  readonly tls: ConnectionOptions | undefined
  /** The Effect context library logs are written in, and the minimum level that reaches it. */
  readonly logContext: Context.Context<never>
  readonly minimumLogLevel: LogLevel
}

export type MakeBackend = (context: BackendContext) => Effect.Effect<KafkaBackend, KafkaConfigError>
