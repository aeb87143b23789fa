import kafkajs from "kafkajs"
import { describe, expect, it } from "vitest"
import { classifyKafkaError } from "../../../src/deliver/kafka/kafkajs/errors.js"

// kafkajs' error classes are typed loosely; build them the way kafkajs does internally.
const K = kafkajs as unknown as Record<string, new(...args: Array<unknown>) => Error>

const protocolError = (type: string, retriable: boolean) =>
  new K.KafkaJSProtocolError({ type, code: 0, retriable, message: `broker says ${type}` } as never)

const afterRetries = (inner: Error) =>
  new K.KafkaJSNumberOfRetriesExceeded(inner, { retryCount: 3, retryTime: 1000 } as never)

describe("classifyKafkaError", () => {
  const on = { createTopics: true }
  const off = { createTopics: false }

  it("treats an unreachable broker as retryable, through the retry envelope", () => {
    const refused = new K.KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:1")
    const failure = classifyKafkaError(afterRetries(refused), off)
    expect(failure.retryable).toBe(true)
    expect(failure.reason).toMatch(/ECONNREFUSED/)
    expect(classifyKafkaError(new K.KafkaJSRequestTimeoutError("Request timed out"), off).retryable).toBe(true)
  })

  it("treats size, authorization and SASL failures as not retryable", () => {
    for (const type of ["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "TOPIC_AUTHORIZATION_FAILED"]) {
      // kafkajs' retrier wraps a bailed error as new KafkaJSNonRetriableError(e, { cause: e })
      const inner = protocolError(type, false)
      const failure = classifyKafkaError(new K.KafkaJSNonRetriableError(inner, { cause: inner } as never), on)
      expect(failure.retryable, type).toBe(false)
      expect(failure.code).toBe(type)
    }
    const sasl = classifyKafkaError(new K.KafkaJSSASLAuthenticationError("SASL PLAIN authentication failed"), on)
    expect(sasl.retryable).toBe(false)
    expect(sasl.reason).toMatch(/kafka\.sasl/)
  })

  it("decides a missing topic by the create_topics setting", () => {
    const missing = afterRetries(protocolError("UNKNOWN_TOPIC_OR_PARTITION", true))
    expect(classifyKafkaError(missing, on).retryable).toBe(true)
    const off_ = classifyKafkaError(missing, off)
    expect(off_.retryable).toBe(false)
    expect(off_.reason).toMatch(/create_topics/)
  })

  it("asks for a fresh producer after a sequence error", () => {
    const failure = classifyKafkaError(protocolError("OUT_OF_ORDER_SEQUENCE_NUMBER", false), on)
    expect(failure).toMatchObject({ retryable: true, resetProducer: true })
  })

  it("keeps the broker's flag for other protocol errors and fails closed on unknown errors", () => {
    expect(classifyKafkaError(protocolError("NOT_LEADER_FOR_PARTITION", true), on).retryable).toBe(true)
    expect(classifyKafkaError(new TypeError("boom"), on).retryable).toBe(false)
  })
})
