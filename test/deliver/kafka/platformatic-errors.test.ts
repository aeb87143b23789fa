/**
 * classifyPlatformaticError on errors built with @platformatic/kafka's own
 * classes, nested the way its producer nests them (per-attempt and
 * per-broker MultipleErrors around the ProtocolError / NetworkError).
 */
import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, UserError } from "@platformatic/kafka"
import { describe, expect, it } from "vitest"
import { classifyPlatformaticError } from "../../../src/deliver/kafka/platformatic/errors.js"

/** "Producing messages failed." -> "produce failed N times." -> the attempts' errors. */
const asProduced = (...attempts: Array<Error>) =>
  new MultipleErrors("Producing messages failed.", [new MultipleErrors(`produce failed ${attempts.length} times.`, attempts)])

describe("classifyPlatformaticError", () => {
  const on = { createTopics: true }
  const off = { createTopics: false }

  it("treats a refused connection and a timeout as retryable, naming the socket error", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })
    const network = new NetworkError("Connection to 127.0.0.1:1 failed.", { cause: refused })
    const failure = classifyPlatformaticError(asProduced(network, network), off)
    expect(failure.retryable).toBe(true)
    expect(failure.reason).toMatch(/unreachable.*ECONNREFUSED/)
    expect(failure.resetProducer).toBe(false)
  })

  it("treats size and authorization protocol errors as not retryable with the shared reasons", () => {
    for (const type of ["MESSAGE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "TOPIC_AUTHORIZATION_FAILED"]) {
      const failure = classifyPlatformaticError(asProduced(new ProtocolError(type)), on)
      expect(failure.retryable, type).toBe(false)
      expect(failure.code).toBe(type)
    }
    expect(classifyPlatformaticError(asProduced(new ProtocolError("MESSAGE_TOO_LARGE")), on).reason)
      .toMatch(/max\.message\.bytes/)
  })

  it("decides a missing topic by the create_topics setting and asks for a fresh producer after sequence errors", () => {
    const missing = asProduced(new ProtocolError("UNKNOWN_TOPIC_OR_PARTITION"))
    expect(classifyPlatformaticError(missing, on).retryable).toBe(true)
    expect(classifyPlatformaticError(missing, off).retryable).toBe(false)
    // The metadata lookup's own form of it (a topic deleted while we run).
    const lookedUp = new UserError("Unknown topic outboxx.public.orders.")
    expect(classifyPlatformaticError(lookedUp, on)).toMatchObject({ retryable: true, code: "UNKNOWN_TOPIC_OR_PARTITION" })
    expect(classifyPlatformaticError(lookedUp, off).retryable).toBe(false)
    const sequence = classifyPlatformaticError(asProduced(new ProtocolError("OUT_OF_ORDER_SEQUENCE_NUMBER")), on)
    expect(sequence).toMatchObject({ retryable: true, resetProducer: true })
  })

  it("keeps the broker's retriable flag for other protocol errors", () => {
    const notLeader = classifyPlatformaticError(asProduced(new ProtocolError("NOT_LEADER_OR_FOLLOWER")), on)
    expect(notLeader).toMatchObject({ retryable: true, code: "NOT_LEADER_OR_FOLLOWER" })
  })

  it("treats SASL, TLS and usage errors as not retryable", () => {
    const sasl = classifyPlatformaticError(new AuthenticationError("SASL authentication failed."), on)
    expect(sasl.retryable).toBe(false)
    expect(sasl.reason).toMatch(/kafka\.sasl/)
    const cert = new NetworkError("Connection failed.", { cause: new Error("self-signed certificate in certificate chain") })
    const tls = classifyPlatformaticError(asProduced(cert), on)
    expect(tls.retryable).toBe(false)
    expect(tls.reason).toMatch(/kafka\.tls/)
    expect(classifyPlatformaticError(new UserError("Idempotent producer requires acks to be ALL (-1)."), on).retryable)
      .toBe(false)
  })
})
