/**
 * Records as kafkajs messages, grouped by topic for `sendBatch`.
 */
import type { Message } from "kafkajs"
import type { OutRecord } from "../../../event/record/OutRecord.js"
import { SlabRecord } from "../../../event/record/SlabRecord.js"

/** Topic -> messages, each topic's messages in input order (so per-key order is kept). */
export const groupByTopic = (
  records: ReadonlyArray<OutRecord>
): Array<{ topic: string; messages: Array<Message> }> => {
  const byTopic = new Map<string, Array<Message>>()
  for (const record of records) {
    let messages = byTopic.get(record.topic)
    if (messages === undefined) {
      messages = []
      byTopic.set(record.topic, messages)
    }
    // kafkajs reads key/value/headers only, so a plain record serves as the message (no copy).
    // A SlabRecord's key and value are getters, which kafkajs' request builder
    // would lose when it spreads the message: it gets them as own properties.
    messages.push(record instanceof SlabRecord ? { key: record.key, value: record.value } : record as Message)
  }
  return Array.from(byTopic, ([topic, messages]) => ({ topic, messages }))
}
