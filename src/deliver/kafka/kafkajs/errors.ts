/**
 * What a kafkajs failure means. kafkajs wraps the failure that matters (a
 * broker error code, a refused connection) in retry envelopes
 * (`KafkaJSNumberOfRetriesExceeded`, `KafkaJSNonRetriableError`), so this
 * walks the `cause` chain to the innermost error and decides from its name or
 * protocol error type.
 */
import { asErrorLike, type ErrorLike, type KafkaFailure, messageOf, nameOf, protocolFailure } from "../errors.js"

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
