/**
 * The WAL-message outbox's wire format and configuration: messages read back
 * exactly as published, anything not signed with the publish key or not
 * well-formed is undeliverable with a reason, and `[outbox]` decodes with
 * clear errors.
 */
import { createHmac, randomBytes } from "node:crypto"
import * as fc from "fast-check"
import * as Redacted from "effect/Redacted"
import { describe, expect, it } from "vitest"
import { topicMatcher } from "../../src/config/topic.js"
import { deliveryLanes } from "../../src/deliver/lanes.js"
import { encodePublished, isUndeliverable, readPublished, verifyingKey } from "../../src/outbox/message.js"
import { makePublishRoute } from "../../src/outbox/route.js"
import { CheckpointTracker } from "../../src/checkpoint/CheckpointTracker.js"
import { Router } from "../../src/route/Router.js"
import { decodeError, decodeOk, minimal } from "../config/fixtures.js"

const key = randomBytes(64)
const redacted = Redacted.make(key)
const hmacKey = verifyingKey(redacted)

describe("outboxx.publish messages", () => {
  it("read back as published: topic, key, headers, payload of either kind, nulls", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/),
        fc.option(fc.string(), { nil: null }),
        fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined }),
        fc.constantFrom("json" as const, "bytes" as const),
        fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null }),
        (topic, messageKey, headers, kind, payload) => {
          const content = encodePublished({ topic, key: messageKey, headers, kind, payload: payload === null ? null : Buffer.from(payload) }, key)
          const read = readPublished(content, hmacKey)
          if (isUndeliverable(read)) throw new Error(read.reason)
          expect(read.topic).toBe(topic)
          expect(read.key === null ? null : read.key.toString("utf8")).toBe(messageKey === null ? null : Buffer.from(messageKey, "utf8").toString("utf8"))
          expect(read.headers).toEqual(headers)
          expect(read.kind).toBe(kind)
          expect(read.value === null ? null : [...read.value]).toEqual(payload === null ? null : [...payload])
        }
      ),
      { numRuns: 500 }
    )
  })

  it("refuses what the publish key did not sign, and anything malformed, with the reason", () => {
    const message = { topic: "t", key: "k", kind: "json" as const, payload: Buffer.from("{}") }
    const signedElsewhere = encodePublished(message, randomBytes(64))
    expect(readPublished(signedElsewhere, hmacKey)).toEqual({ reason: expect.stringMatching(/signature does not verify/) })
    expect(readPublished(encodePublished(message, key), undefined)).toEqual({ reason: expect.stringMatching(/could not be read/) })
    expect(readPublished(Buffer.from("hello"), hmacKey)).toEqual({ reason: expect.stringMatching(/not an outboxx.publish message/) })
    // Signed but malformed (a body no publish writes): a length past the end, headers that are not an object of strings.
    const body = Buffer.concat([Buffer.from([1]), Buffer.from([0, 0, 0, 9]), Buffer.from("t")])
    const sign = (b: Buffer) => Buffer.concat([b, createHmac("sha256", key).update(b).digest()])
    expect(readPublished(sign(body), hmacKey)).toEqual({ reason: expect.stringMatching(/topic length 9 is out of range/) })
    const badHeaders = encodePublished({ ...message, headers: { a: 1 } as unknown as Record<string, string> }, key)
    expect(readPublished(badHeaders, hmacKey)).toEqual({ reason: expect.stringMatching(/header "a" is not a string/) })
  })

  it("routes allowed topics to their records and the rest to dead letters naming the reason", () => {
    const route = makePublishRoute({ topics: ["orders.*", "billing"], deadLetterTopic: "dlq" }, redacted, 1)
    const at = (topic: string, transactional = true) => ({
      tag: "Message" as const,
      xid: undefined,
      transactional,
      lsn: 100,
      prefix: "outboxx-publish",
      content: encodePublished({ topic, key: "k", kind: "json", payload: Buffer.from("{\"a\":1}") }, key)
    })
    expect(route.record(at("orders.created"), 7, 200)).toMatchObject({ topic: "orders.created", key: Buffer.from("k") })
    expect(route.record(at("billing"), 7, 200).topic).toBe("billing")
    const refused = route.record(at("billingX"), 7, 200)
    expect(refused.topic).toBe("dlq")
    expect(JSON.parse(String(refused.value))).toMatchObject({ stream: "outbox", topic: "billingX", position: { xid: 7, commitLsn: "0/C8" } })
    expect(JSON.parse(String(route.record(at("orders.x", false), 0, 0).value)).error).toMatch(/non-transactional/)
    expect(route.takeCounts()).toEqual({ published: 2, deadLettered: 2 })
  })
})

describe("the Router and logical messages", () => {
  it("sends outboxx.publish's messages to the outbox lane, and every other prefix (the snapshot's watermarks) on", () => {
    const seen: Array<string> = []
    const route = makePublishRoute({ topics: ["t"], deadLetterTopic: "dlq" }, redacted, 1)
    const router = new Router(2, new CheckpointTracker(1), { publish: route, onLogicalMessage: (m) => seen.push(m.prefix) })
    router.route(10, { tag: "Begin", finalLsn: 100, commitTime: 0, xid: 5 })
    const content = encodePublished({ topic: "t", key: "k", kind: "json", payload: Buffer.from("1") }, key)
    for (const prefix of ["outboxx-publish", "outboxx", "outboxx-signal", "audit"]) {
      router.route(11, { tag: "Message", xid: undefined, transactional: true, lsn: 11, prefix, content })
    }
    router.route(100, { tag: "Commit", flags: 0, commitLsn: 100, endLsn: 108, commitTime: 0 })
    expect(seen).toEqual(["outboxx", "outboxx-signal", "audit"])
    expect(router.outbox(1).records.map((r) => r.topic)).toEqual(["t"])
  })
})

describe("[outbox] configuration", () => {
  it("is off without the section; on with it, as a delivery lane after the streams", () => {
    expect(decodeOk(minimal()).outbox).toBeUndefined()
    const settings = decodeOk(minimal(`[outbox]\ntopics = ["orders.*"]\n`))
    expect(settings.outbox).toEqual({ topics: ["orders.*"], deadLetterTopic: "outboxx.dead_letter.outbox" })
    expect(deliveryLanes(settings).map((l) => [l.name, l.deadLetterTopic])).toEqual([["orders", undefined], ["outbox", "outboxx.dead_letter.outbox"]])
  })

  it("names what is wrong", () => {
    expect(decodeError(minimal(`[outbox]\ntopics = ["has space"]\n`)).message).toMatch(/outbox\.topics\[0\].*topic name or glob/)
    expect(decodeError(minimal(`[outbox]\ndead_letter_topic = "a/b"\n`)).message).toMatch(/outbox\.dead_letter_topic.*Kafka topic name/)
    expect(decodeError(minimal(`[outbox]\ntopic = ["x"]\n`)).message).toMatch(/outbox\.topic/)
    expect(decodeError(minimal(`[outbox]\n`).replace(`name = "orders"`, `name = "outbox"`)).message).toMatch(/streams\[0\]\.name.*other than "outbox"/)
  })

  it("matches topic globs: * any run, ? one character, dots literal", () => {
    const allowed = topicMatcher(["orders.*", "a?c", "plain"])
    expect(["orders.created", "orders.", "abc", "a.c", "plain"].map(allowed)).toEqual([true, true, true, true, true])
    expect(["ordersXcreated", "abbc", "plainer", "xplain"].map(allowed)).toEqual([false, false, false, false])
    expect(topicMatcher([])("anything")).toBe(false)
  })
})
