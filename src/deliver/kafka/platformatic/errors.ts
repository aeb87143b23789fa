/**
 * What a @platformatic/kafka failure means, with the same outcomes as the
 * kafkajs classifier for the same situations.
 */
import { asErrorLike, type ErrorLike, type KafkaFailure, messageOf, nameOf, protocolFailure } from "../errors.js"

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
