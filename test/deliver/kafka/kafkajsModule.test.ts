/**
 * kafkajs' request queue, as kafkajsModule() loads it: no timer while nothing
 * is pending (kafkajs 2.2.4 polled every millisecond, with a negative delay),
 * and a queued request still gets its check.
 */
import { createRequire } from "node:module"
import { afterEach, describe, expect, it } from "vitest"
import { kafkajsModule } from "../../../src/deliver/kafka/kafkajs/module.js"

interface Queue {
  pending: Array<unknown>
  throttleCheckTimeoutId: unknown
  throttledUntil: number
  scheduleCheckPendingRequests(): void
  checkPendingRequests(): void
  destroy(): void
}

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }
const queues: Array<Queue> = []
const makeQueue = (): Queue => {
  kafkajsModule()
  const RequestQueue = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js") as new(
    options: Record<string, unknown>
  ) => Queue
  const queue = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1_000, clientId: "t", broker: "b", logger: quiet })
  queues.push(queue)
  return queue
}

afterEach(() => {
  for (const queue of queues.splice(0)) queue.destroy()
})

describe("kafkajs request queue (kafkajsModule)", () => {
  it("arms no timer after a check with nothing pending", () => {
    const queue = makeQueue()
    queue.checkPendingRequests()
    expect(queue.throttleCheckTimeoutId).toBeNull()
  })

  it("still schedules a check while a request waits (throttled by the broker)", () => {
    const queue = makeQueue()
    queue.throttledUntil = Date.now() + 50
    queue.pending.push({})
    queue.scheduleCheckPendingRequests()
    expect(queue.throttleCheckTimeoutId).not.toBeNull()
  })
})
