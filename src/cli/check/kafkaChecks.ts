/**
 * The Kafka half of `outboxx check`: the cluster answers (bounded time), and
 * every topic the streams write to exists or will be created.
 *
 * Outboxx never relies on the broker's auto.create.topics.enable (see
 * src/deliver/kafka/TopicAdmin.ts), so a missing topic with kafka.create_topics off is
 * a FAIL even when the broker would auto-create it.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import type { OutboxxSettings } from "../../config/model.js"
import { checkTopicName, configuredTopics } from "../../config/topic.js"
import { KafkaClient } from "../../deliver/kafka/KafkaClient.js"
import { TopicAdmin } from "../../deliver/kafka/TopicAdmin.js"
import { type CheckResult, fail, ok } from "./report.js"

export const kafkaCheckTimeoutMs = 8_000

const listTopics = Effect.flatMap(TopicAdmin, (admin) => admin.listTopics).pipe(
  Effect.timeoutOrElse({
    duration: kafkaCheckTimeoutMs,
    orElse: () => Effect.fail({ reason: `no answer within ${kafkaCheckTimeoutMs} ms` })
  })
)

const topicChecks = (settings: OutboxxSettings) =>
  Effect.gen(function*() {
    const wanted = configuredTopics(settings)
    const results: Array<CheckResult> = []
    const invalid = [...wanted.keys()].flatMap((topic) => {
      const problem = checkTopicName(topic)
      return problem === undefined ? [] : [fail(`topic ${JSON.stringify(topic)}`, problem, "fix streams[].topic")]
    })
    if (invalid.length > 0) return invalid
    const listed = yield* Effect.result(listTopics)
    if (listed._tag === "Failure") {
      return [fail("kafka topics", listed.failure.reason, "grant DESCRIBE on the topics to the Kafka user")]
    }
    const existing = new Set(listed.success)
    const missing = [...wanted.keys()].filter((t) => !existing.has(t))
    const present = [...wanted.keys()].filter((t) => existing.has(t))
    if (present.length > 0) results.push(ok("kafka topics", `exist: ${present.join(", ")}`))
    if (missing.length > 0) {
      results.push(
        settings.kafka.createTopics
          ? ok("kafka topics", `will be created (kafka.create_topics): ${missing.join(", ")}`)
          : fail(
            "kafka topics",
            `missing: ${missing.join(", ")}`,
            `create them (kafka-topics.sh --create --topic ${missing[0]}) or set kafka.create_topics = true`
          )
      )
    }
    return results
  })

/** Every Kafka check. */
export const kafkaChecks = (settings: OutboxxSettings): Effect.Effect<ReadonlyArray<CheckResult>> => {
  const brokers = settings.kafka.brokers.join(", ")
  const program = Effect.gen(function*() {
    const admin = yield* TopicAdmin
    const described = yield* Effect.result(admin.describeCluster({ timeoutMs: kafkaCheckTimeoutMs }))
    if (described._tag === "Failure") {
      return [fail(
        "kafka reachable",
        `${brokers}: ${described.failure.reason}`,
        "check kafka.brokers (and kafka.tls / kafka.sasl) and that the brokers are up"
      )]
    }
    const cluster = described.success
    const results: Array<CheckResult> = [
      ok(
        "kafka reachable",
        `${cluster.brokers.length} broker${cluster.brokers.length === 1 ? "" : "s"}: ` +
          cluster.brokers.map((b) => `${b.host}:${b.port} (id ${b.nodeId})`).join(", ")
      )
    ]
    results.push(...(yield* topicChecks(settings)))
    return results as ReadonlyArray<CheckResult>
  })
  const layer = TopicAdmin.layer.pipe(
    Layer.provideMerge(KafkaClient.layerWith(settings.kafka)),
    // kafkajs would log every failed connection attempt; the report says it once.
    Layer.provide(Layer.succeed(References.MinimumLogLevel, "None"))
  )
  return program.pipe(
    Effect.provide(layer),
    Effect.catchTag("KafkaConfigError", (e) =>
      Effect.succeed([fail("kafka settings", `${e.path}: ${e.reason}`)] as ReadonlyArray<CheckResult>)),
    Effect.catchDefect((defect) => Effect.succeed([fail("kafka checks", `could not run: ${String(defect)}`)]))
  )
}
