/**
 * Kafka-side errors, and what a broker's protocol error means for a send.
 *
 * Each client library wraps failures its own way; its classifier
 * (kafkajs/errors.ts, platformatic/errors.ts) finds the part that matters (a
 * broker error code, a refused connection) and maps it to a KafkaFailure with
 * the same outcome for the same situation. "Retryable" means "sending the
 * same records again later may succeed": the pipeline retries those with a
 * Schedule and a circuit breaker; everything else stops the pipeline (or
 * takes the dead-letter path) with the human reason.
 */
import * as Schema from "effect/Schema"

/** A batch (or part of it) was not acknowledged by the broker. */
export class KafkaSendError extends Schema.TaggedError<KafkaSendError>()("KafkaSendError", {
  /** The topics of the batch that failed. */
  topics: Schema.Array(Schema.String),
  retryable: Schema.Boolean,
  /** A sentence for the log: what went wrong and, when we know it, what to do. */
  reason: Schema.String,
  /** Kafka protocol error type (e.g. "MESSAGE_TOO_LARGE") or kafkajs error name. */
  code: Schema.optional(Schema.String),
  /**
   * How many records from the start of the input array were acknowledged
   * before the failure (the producer sends in order, one request at a time).
   * The records after them may or may not have been written.
   */
  acknowledged: Schema.Number,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `Kafka send to ${this.topics.join(", ")} failed (${this.retryable ? "retryable" : "not retryable"}): ${this.reason}`
  }
}

/** Kafka settings that cannot work (unsupported compression, unreadable TLS file, ...). */
export class KafkaConfigError extends Schema.TaggedError<KafkaConfigError>()("KafkaConfigError", {
  /** Key path in the config file, e.g. `kafka.compression`. */
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

/** Topics are missing, or could not be created or checked. */
export class KafkaTopicError extends Schema.TaggedError<KafkaTopicError>()("KafkaTopicError", {
  topics: Schema.Array(Schema.String),
  retryable: Schema.Boolean,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return this.reason
  }
}

/** The cluster could not be reached or described (preflight `check`). */
export class KafkaUnreachableError extends Schema.TaggedError<KafkaUnreachableError>()("KafkaUnreachableError", {
  brokers: Schema.Array(Schema.String),
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `Kafka at ${this.brokers.join(", ")} is unreachable: ${this.reason}`
  }
}

/** What classification found out about a failure. */
export interface KafkaFailure {
  readonly retryable: boolean
  readonly reason: string
  readonly code: string | undefined
  /** The idempotent producer's sequence state is broken; a fresh producer is needed. */
  readonly resetProducer: boolean
}

export interface ErrorLike {
  readonly name?: unknown
  readonly message?: unknown
  readonly type?: unknown
  readonly retriable?: unknown
  readonly cause?: unknown
  readonly originalError?: unknown
  readonly errors?: unknown
}

export const asErrorLike = (u: unknown): ErrorLike | undefined =>
  typeof u === "object" && u !== null ? (u as ErrorLike) : undefined

export const nameOf = (e: ErrorLike | undefined): string => (typeof e?.name === "string" ? e.name : "Error")
export const messageOf = (e: ErrorLike | undefined): string =>
  typeof e?.message === "string" ? e.message : String(e)

/** Protocol errors that will not go away by sending the same records again. */
const fatalTypes: Record<string, string> = {
  MESSAGE_TOO_LARGE:
    "a record is larger than the broker/topic accepts (max.message.bytes); raise the topic's max.message.bytes or make the record smaller",
  RECORD_LIST_TOO_LARGE:
    "a produce request exceeds the broker's limit; lower kafka.batch_max_bytes or raise the broker's max.message.bytes",
  INVALID_RECORD: "the broker rejected a record as invalid (a compacted topic needs a non-null key)",
  CORRUPT_MESSAGE: "the broker reports a corrupt record",
  TOPIC_AUTHORIZATION_FAILED: "the Kafka user is not allowed to write to the topic (grant WRITE and DESCRIBE on it)",
  CLUSTER_AUTHORIZATION_FAILED:
    "the Kafka user is not allowed to use the idempotent producer (grant IDEMPOTENT_WRITE on the cluster)",
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: "the Kafka user is not allowed to use the transactional id",
  SASL_AUTHENTICATION_FAILED: "SASL authentication failed: check kafka.sasl username, password and mechanism",
  UNSUPPORTED_SASL_MECHANISM: "the broker does not support the configured kafka.sasl.mechanism",
  ILLEGAL_SASL_STATE: "SASL handshake failed: check kafka.sasl and that the broker's listener has SASL enabled",
  INVALID_TOPIC_EXCEPTION: "the topic name is not valid for Kafka",
  UNSUPPORTED_VERSION: "the broker does not support a request version this client needs",
  UNSUPPORTED_FOR_MESSAGE_FORMAT: "the topic's message format is too old for this client",
  POLICY_VIOLATION: "the broker's policy rejected the request",
  INVALID_REQUIRED_ACKS: "the broker rejected acks=all"
}

/** Protocol errors after which the idempotent producer must start over with a new producer id. */
const resetTypes = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
  "INVALID_PRODUCER_ID_MAPPING"
])

/** What a Kafka protocol error type (e.g. "MESSAGE_TOO_LARGE") means for a send. */
export const protocolFailure = (
  type: string,
  brokerSaysRetriable: boolean,
  message: string,
  options: { readonly createTopics: boolean }
): KafkaFailure => {
  if (type === "UNKNOWN_TOPIC_OR_PARTITION") {
    return {
      retryable: options.createTopics,
      reason: options.createTopics
        ? "the topic does not exist (yet); it is created again before the next attempt"
        : "the topic does not exist; create it, or set kafka.create_topics = true",
      code: type,
      resetProducer: false
    }
  }
  if (resetTypes.has(type)) {
    return {
      retryable: true,
      reason: `the broker lost track of this producer's sequence numbers (${type}); a new producer is started`,
      code: type,
      resetProducer: true
    }
  }
  const fatal = fatalTypes[type]
  if (fatal !== undefined) return { retryable: false, reason: fatal, code: type, resetProducer: false }
  // Any other protocol error: trust the broker's own retriable flag.
  return {
    retryable: brokerSaysRetriable,
    reason: `the broker answered ${type}: ${message}`,
    code: type,
    resetProducer: false
  }
}

