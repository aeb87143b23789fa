import { describe, expect, it } from "vitest"
import { decodeError, decodeOk, minimal } from "./fixtures.js"

const withClient = (value: string) =>
  minimal().replace(`brokers = ["127.0.0.1:9092"]`, `brokers = ["127.0.0.1:9092"]\nclient = ${value}`)

describe("kafka.client", () => {
  it("defaults to auto (platformatic where the Node version allows)", () => {
    expect(decodeOk(minimal()).kafka.client).toBe("auto")
  })

  it("selects kafkajs", () => {
    expect(decodeOk(withClient(`"kafkajs"`)).kafka.client).toBe("kafkajs")
  })

  it("rejects an unknown client with its key path and the choices", () => {
    const error = decodeError(withClient(`"rdkafka"`))
    expect(error.message).toContain("kafka.client")
    expect(error.message).toContain(`"auto", "platformatic", "kafkajs"`)
  })
})
