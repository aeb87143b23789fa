import { describe, expect, it } from "vitest"
import { decodeError, decodeOk, kafkaSection, minimal } from "./fixtures.js"

describe("reliability keys", () => {
  it("defaults: on_slot_lost fail, on_error fail, a dead-letter topic per stream", () => {
    const settings = decodeOk(minimal())
    expect(settings.postgres.onSlotLost).toBe("fail")
    expect(settings.streams[0]!.onError).toBe("fail")
    expect(settings.streams[0]!.deadLetterTopic).toBe("outboxx.dead_letter.orders")
  })

  it("reads on_slot_lost, on_error and dead_letter_topic", () => {
    const settings = decodeOk(`[postgres]
url = "postgres://outboxx@127.0.0.1:5432/shop"
on_slot_lost = "resnapshot"
${kafkaSection}[[streams]]
name = "orders"
tables = ["orders"]
on_error = "dead_letter"
dead_letter_topic = "orders.dlq"
`)
    expect(settings.postgres.onSlotLost).toBe("resnapshot")
    expect(settings.streams[0]!.onError).toBe("dead_letter")
    expect(settings.streams[0]!.deadLetterTopic).toBe("orders.dlq")
  })

  it("rejects an unknown on_error value with its key path", () => {
    const error = decodeError(minimal().replace(`tables = ["public.orders"]`, `tables = ["public.orders"]\non_error = "skip"`))
    expect(error.message).toContain("streams[0].on_error")
    expect(error.message).toContain("dead_letter")
  })

  it("rejects an unknown on_slot_lost value with its key path", () => {
    const error = decodeError(minimal().replace(`url = "postgres://outboxx@127.0.0.1:5432/shop"`, `url = "postgres://outboxx@127.0.0.1:5432/shop"\non_slot_lost = "ignore"`))
    expect(error.message).toContain("postgres.on_slot_lost")
    expect(error.message).toContain("resnapshot")
  })
})
