/**
 * Kafka-side errors and the classification of kafkajs failures.
 *
 * kafkajs wraps the failure that matters (a broker error code, a refused
 * connection) in retry envelopes (`KafkaJSNumberOfRetriesExceeded`,
 * `KafkaJSNonRetriableError`), so classification walks the `cause` chain to the
 * innermost error and decides from its name / protocol error type. "Retryable"
 * here means "sending the same records again later may succeed" — the pipeline
 * retries those with a Schedule and a circuit breaker; everything else stops
 * the pipeline with the human reason.
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

/** What classification found out about a kafkajs failure. */
export interface KafkaFailure {
  readonly retryable: boolean
  readonly reason: string
  readonly code: string | undefined
  /** The idempotent producer's sequence state is broken; a fresh producer is needed. */
  readonly resetProducer: boolean
}

interface ErrorLike {
  readonly name?: unknown
  readonly message?: unknown
  readonly type?: unknown
  readonly retriable?: unknown
  readonly cause?: unknown
  readonly originalError?: unknown
  readonly errors?: unknown
}

const asErrorLike = (u: unknown): ErrorLike | undefined =>
  typeof u === "object" && u !== null ? (u as ErrorLike) : undefined

/** The chain outermost -> innermost, following `cause` / `originalError`. */
export const errorChain = (error: unknown): ReadonlyArray<ErrorLike> => {
  const chain: Array<ErrorLike> = []
  let current: unknown = error
  while (chain.length < 10) {
    const e = asErrorLike(current)
    if (e === undefined || chain.includes(e)) break
    chain.push(e)
    current = e.cause ?? e.originalError
  }
  return chain
}

/** The first protocol error type (UPPER_SNAKE) found in the chain or in an aggregate's members. */
const protocolType = (chain: ReadonlyArray<ErrorLike>): string | undefined => {
  for (const e of chain) {
    if (typeof e.type === "string") return e.type
    if (Array.isArray(e.errors)) {
      for (const member of e.errors) {
        const t = asErrorLike(member)?.type
        if (typeof t === "string") return t
      }
    }
  }
  return undefined
}

const nameOf = (e: ErrorLike | undefined): string => (typeof e?.name === "string" ? e.name : "Error")
const messageOf = (e: ErrorLike | undefined): string =>
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

/** kafkajs error names that mean "the broker is (temporarily) not there". */
const transientNames = new Set([
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSMetadataNotLoaded",
  "KafkaJSTopicMetadataNotLoaded",
  "KafkaJSStaleTopicMetadataAssignment",
  "KafkaJSLockTimeout",
  "KafkaJSTimeout"
])

/** What a Kafka protocol error type (e.g. "MESSAGE_TOO_LARGE") means for a send. */
const protocolFailure = (
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

/**
 * Classifies a failure thrown by kafkajs.
 * `createTopics` decides UNKNOWN_TOPIC_OR_PARTITION: with creation on the
 * topic is re-created on the next attempt, with it off no retry will help.
 */
export const classifyKafkaError = (error: unknown, options: { readonly createTopics: boolean }): KafkaFailure => {
  const chain = errorChain(error)
  const innermost = chain[chain.length - 1]
  const type = protocolType(chain)

  if (type !== undefined) {
    const member = chain.find((e) => e.type === type)
    return protocolFailure(type, member?.retriable !== false, messageOf(member), options)
  }

  const names = chain.map(nameOf)
  if (names.includes("KafkaJSSASLAuthenticationError")) {
    return {
      retryable: false,
      reason: `SASL authentication failed (${messageOf(innermost)}): check kafka.sasl username, password and mechanism`,
      code: "KafkaJSSASLAuthenticationError",
      resetProducer: false
    }
  }
  const transient = names.find((n) => transientNames.has(n))
  if (transient !== undefined) {
    return {
      retryable: true,
      reason: `broker unreachable or not answering (${messageOf(innermost)})`,
      code: transient,
      resetProducer: false
    }
  }
  const innerName = nameOf(innermost)
  // TLS handshake failures surface as plain Node errors from the socket.
  if (/certificate|self.signed|ssl|tls/i.test(messageOf(innermost))) {
    return {
      retryable: false,
      reason: `TLS connection failed (${messageOf(innermost)}): check kafka.tls ca/cert/key and reject_unauthorized`,
      code: innerName,
      resetProducer: false
    }
  }
  // A plain kafkajs error keeps its own retriable flag ("The producer is disconnected" is retriable).
  if (innerName.startsWith("KafkaJS") && innerName !== "KafkaJSNonRetriableError") {
    return {
      retryable: innermost?.retriable !== false,
      reason: messageOf(innermost),
      code: innerName,
      resetProducer: false
    }
  }
  return { retryable: false, reason: messageOf(innermost), code: innerName, resetProducer: false }
}

interface PlatformaticErrorLike extends ErrorLike {
  readonly code?: unknown
  readonly apiId?: unknown
  readonly canRetry?: unknown
  readonly serverErrorMessage?: unknown
}

/**
 * Every error in a @platformatic/kafka failure, depth first: it nests
 * `MultipleErrors` (one per retry attempt, one per broker) around the
 * `ProtocolError` / `NetworkError` that matters, and a socket error as `cause`.
 */
export const errorTree = (error: unknown): ReadonlyArray<PlatformaticErrorLike> => {
  const out: Array<PlatformaticErrorLike> = []
  const visit = (u: unknown, depth: number) => {
    const e = asErrorLike(u) as PlatformaticErrorLike | undefined
    if (e === undefined || depth > 8 || out.length >= 100 || out.includes(e)) return
    out.push(e)
    if (Array.isArray(e.errors)) for (const member of e.errors) visit(member, depth + 1)
    visit(e.cause, depth + 1)
  }
  visit(error, 0)
  return out
}

/**
 * Classifies a failure from the @platformatic/kafka producer, with the same
 * outcomes as `classifyKafkaError` for the same situations.
 */
export const classifyPlatformaticError = (
  error: unknown,
  options: { readonly createTopics: boolean }
): KafkaFailure => {
  const tree = errorTree(error)
  const protocol = tree.find((e) => e.code === "PLT_KFK_PROTOCOL" && typeof e.apiId === "string")
  if (protocol !== undefined) {
    const server = typeof protocol.serverErrorMessage === "string" ? ` (${protocol.serverErrorMessage})` : ""
    return protocolFailure(protocol.apiId as string, protocol.canRetry !== false, messageOf(protocol) + server, options)
  }
  // The deepest error says what happened on the wire (ECONNREFUSED, a certificate problem, ...).
  const innermost = tree[tree.length - 1]
  const detail = messageOf(innermost)
  const auth = tree.find((e) => e.code === "PLT_KFK_AUTHENTICATION" || /sasl/i.test(messageOf(e)))
  if (auth !== undefined) {
    return {
      retryable: false,
      reason: `SASL authentication failed (${messageOf(auth)}${auth === innermost ? "" : `: ${detail}`}): ` +
        `check kafka.sasl username, password and mechanism, and that the broker's listener has SASL enabled`,
      code: "PLT_KFK_AUTHENTICATION",
      resetProducer: false
    }
  }
  if (tree.some((e) => /certificate|self.signed|ssl|tls/i.test(messageOf(e)))) {
    return {
      retryable: false,
      reason: `TLS connection failed (${detail}): check kafka.tls ca/cert/key and reject_unauthorized`,
      code: typeof innermost?.code === "string" ? innermost.code : nameOf(innermost),
      resetProducer: false
    }
  }
  const transient = tree.find((e) => e.code === "PLT_KFK_NETWORK" || e.code === "PLT_KFK_TIMEOUT")
  if (transient !== undefined && transient.canRetry !== false) {
    return {
      retryable: true,
      reason: `broker unreachable or not answering (${detail})`,
      code: transient.code as string,
      resetProducer: false
    }
  }
  // The client's metadata lookup turns the broker's UNKNOWN_TOPIC_OR_PARTITION into a plain
  // "Unknown topic <name>." error: a topic deleted while we run. It is the same condition.
  if (tree.some((e) => /^Unknown topic .+\.$/.test(messageOf(e)))) {
    return protocolFailure("UNKNOWN_TOPIC_OR_PARTITION", true, detail, options)
  }
  const first = tree[0]
  return {
    retryable: false,
    reason: detail === messageOf(first) ? detail : `${messageOf(first)}: ${detail}`,
    code: typeof first?.code === "string" ? first.code : nameOf(first),
    resetProducer: false
  }
}
