/**
 * Delivery lanes: each configured stream is one, in config order, and the
 * WAL-message outbox (`[outbox]`) one more after them. A lane is delivered
 * in order by one sender, so per-key order holds within it; the Router
 * fills one outbox per lane.
 */
import type { OutboxxSettings } from "../config/model.js"
import { deadLetterTopicOf, isTopicGlob, OUTBOX_LANE, renderTopic } from "../config/topic.js"
import type { DynamicLane } from "./dynamicTopics.js"

export interface Lane {
  readonly name: string
  /** Where records Kafka rejects for good go; undefined = the pipeline stops on them. */
  readonly deadLetterTopic: string | undefined
}

export const deliveryLanes = (settings: Pick<OutboxxSettings, "streams" | "outbox">): ReadonlyArray<Lane> => [
  ...settings.streams.map((stream) => ({
    name: stream.name,
    deadLetterTopic: stream.onError === "dead_letter" || stream.kind === "outbox" ? stream.deadLetterTopic : undefined
  })),
  ...(settings.outbox === undefined ? [] : [{ name: OUTBOX_LANE, deadLetterTopic: settings.outbox.deadLetterTopic }])
]

/** The outbox's lane index, when `[outbox]` is configured. */
export const outboxLane = (settings: Pick<OutboxxSettings, "streams" | "outbox">): number | undefined =>
  settings.outbox === undefined ? undefined : settings.streams.length

/**
 * The lanes whose records name their own topics (deliver/dynamicTopics.ts):
 * the WAL-message outbox's, and each outbox table stream's.
 */
export const dynamicLanes = (settings: Pick<OutboxxSettings, "streams" | "outbox">): ReadonlyArray<DynamicLane> => [
  ...settings.streams.flatMap((stream, lane) =>
    stream.kind !== "outbox" ? [] : [{
      lane,
      name: stream.name,
      deadLetterTopic: deadLetterTopicOf(stream),
      prepared: stream.tables
        .map((t) => renderTopic(stream.topic, { schema: t.schema, table: t.name, stream: stream.name }))
        .filter((topic) => !topic.includes("{"))
    }]
  ),
  ...(settings.outbox === undefined ? [] : [{
    lane: settings.streams.length,
    name: OUTBOX_LANE,
    deadLetterTopic: settings.outbox.deadLetterTopic,
    prepared: settings.outbox.topics.filter((t) => !isTopicGlob(t))
  }])
]
