/**
 * The WAL-message outbox's wire format: what `outboxx.publish(...)` writes
 * with `pg_logical_emit_message(true, 'outboxx-publish', content)` (the SQL in
 * sql.ts builds it) and what the daemon reads back from pgoutput's Message.
 *
 * content = body || HMAC-SHA256(publish key, body), body =
 *   version   1 byte (1)
 *   topic     int32 length + UTF-8
 *   key       int32 length (-1 = null key) + UTF-8
 *   headers   int32 length (-1 = none) + a flat JSON object of strings, UTF-8
 *   kind      1 byte: 'j' (jsonb payload, its JSON text) or 'b' (bytea)
 *   payload   int32 length (-1 = null value) + bytes
 *
 * Why a MAC: any role may call pg_logical_emit_message (PUBLIC can execute
 * it), so the prefix proves nothing about who wrote a message. Only
 * `outboxx.publish`, a SECURITY DEFINER function granted to the roles the
 * operator names, can read the key it signs with; a message that does not
 * verify goes to the dead-letter topic with the reason, never to its topic.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto"
import * as Redacted from "effect/Redacted"

/**
 * The logical decoding message prefix of `outboxx.publish` (the incremental
 * snapshot's watermarks use "outboxx", its signals "outboxx-signal").
 */
export const PUBLISH_PREFIX = "outboxx-publish"

const VERSION = 1
const MAC_BYTES = 32

/** One published message, as its record carries it. */
export interface PublishedMessage {
  readonly topic: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly kind: "json" | "bytes"
}

/** Why a message cannot be delivered as published: it goes to the dead-letter topic with this reason. */
export interface Undeliverable {
  readonly reason: string
}

export const isUndeliverable = (u: PublishedMessage | Undeliverable): u is Undeliverable => "reason" in u

/**
 * The publish key as the HMAC key object messages are verified with, made
 * once: given as bytes, `createHmac` imports the key again for every
 * message (16 µs against 3.6 µs, 46% of a drain's CPU).
 */
export const verifyingKey = (key: Redacted.Redacted<Buffer>): KeyObject => createSecretKey(Redacted.value(key))

/**
 * Verifies and reads one message's content. `key` is the publish key
 * (`verifyingKey`); undefined when it could not be read, in which case no
 * message verifies.
 */
export const readPublished = (content: Uint8Array, key: KeyObject | undefined): PublishedMessage | Undeliverable => {
  const bytes = Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  if (bytes.length < 1 + MAC_BYTES || bytes[0] !== VERSION) {
    return { reason: `not an outboxx.publish message (version ${bytes[0] ?? "none"}, ${bytes.length} bytes)` }
  }
  const bodyEnd = bytes.length - MAC_BYTES
  if (key === undefined) return { reason: "the publish key could not be read, so the message cannot be verified" }
  const mac = createHmac("sha256", key).update(bytes.subarray(0, bodyEnd)).digest()
  if (!timingSafeEqual(mac, bytes.subarray(bodyEnd))) {
    return {
      reason: "the message's signature does not verify: it was not written by outboxx.publish " +
        "(pg_logical_emit_message called directly with its prefix, or the publish key changed)"
    }
  }
  let at = 1
  const field = (what: string): Buffer | null | Undeliverable => {
    if (at + 4 > bodyEnd) return { reason: `the message ends before its ${what}` }
    const length = bytes.readInt32BE(at)
    at += 4
    if (length === -1) return null
    if (length < 0 || at + length > bodyEnd) return { reason: `the message's ${what} length ${length} is out of range` }
    const value = bytes.subarray(at, at + length)
    at += length
    return value
  }
  const topic = field("topic")
  if (topic === null) return { reason: "the message has no topic" }
  if (!Buffer.isBuffer(topic)) return topic
  const messageKey = field("key")
  if (messageKey !== null && !Buffer.isBuffer(messageKey)) return messageKey
  const headersText = field("headers")
  if (headersText !== null && !Buffer.isBuffer(headersText)) return headersText
  const kind = bytes[at++]
  if (kind !== 0x6a && kind !== 0x62) return { reason: `the message's payload kind ${kind} is neither 'j' nor 'b'` }
  const payload = field("payload")
  if (payload !== null && !Buffer.isBuffer(payload)) return payload
  if (at !== bodyEnd) return { reason: `the message has ${bodyEnd - at} bytes after its payload` }
  let headers: Record<string, string> | undefined
  if (headersText !== null) {
    const parsed = parseHeaders(headersText.toString("utf8"))
    if (typeof parsed === "string") return { reason: parsed }
    headers = parsed
  }
  return {
    topic: topic.toString("utf8"),
    // Copies: the content's buffer holds the MAC and the other fields, which the record need not keep alive.
    key: messageKey === null ? null : Buffer.from(messageKey),
    value: payload === null ? null : Buffer.from(payload),
    headers,
    kind: kind === 0x6a ? "json" : "bytes"
  }
}

/** A flat JSON object of strings (publish checks it; a message is read as strictly as it was written). */
const parseHeaders = (text: string): Record<string, string> | string => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return "the message's headers are not JSON"
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "the message's headers are not a JSON object"
  // JSON.parse makes every key an own property (a header named "__proto__" too): the object is used as it is.
  for (const name in parsed) {
    if (typeof (parsed as Record<string, unknown>)[name] !== "string") return `the message's header ${JSON.stringify(name)} is not a string`
  }
  return parsed as Record<string, string>
}

/** A message's content as `outboxx.publish` writes it (for the tests of the reading side). */
export const encodePublished = (
  message: { readonly topic: string; readonly key: string | null; readonly headers?: Readonly<Record<string, string>> | undefined; readonly kind: "json" | "bytes"; readonly payload: Buffer | null },
  key: Buffer
): Buffer => {
  const field = (value: Buffer | null): Buffer => {
    const length = Buffer.alloc(4)
    length.writeInt32BE(value === null ? -1 : value.length)
    return value === null ? length : Buffer.concat([length, value])
  }
  const body = Buffer.concat([
    Buffer.from([VERSION]),
    field(Buffer.from(message.topic, "utf8")),
    field(message.key === null ? null : Buffer.from(message.key, "utf8")),
    field(message.headers === undefined ? null : Buffer.from(JSON.stringify(message.headers), "utf8")),
    Buffer.from([message.kind === "json" ? 0x6a : 0x62]),
    field(message.payload)
  ])
  return Buffer.concat([body, createHmac("sha256", key).update(body).digest()])
}
