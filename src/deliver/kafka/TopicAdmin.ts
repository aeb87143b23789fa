/**
 * Topic existence and creation, and the cluster description for `outboxx check`.
 *
 * With `kafka.createTopics` on, missing topics are created with the configured
 * partitions / replication factor; with it off a missing topic is an error that
 * names the topic and the fix. Outboxx never leaves topic creation to the
 * broker's `auto.create.topics.enable` (the producer asks for metadata with
 * auto-creation off), so a topic is never silently created with broker defaults.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Semaphore from "effect/Semaphore"
import type { AdminBackend, CommittedRecord } from "./AdminBackend.js"
import { KafkaTopicError, KafkaUnreachableError } from "./errors.js"
import { KafkaClient, kafkaTimeouts } from "./KafkaClient.js"

/** How long a created topic may take to appear in the metadata, and how often to look. */
const metadataWaitMs = 30_000
const metadataWait = Schedule.spaced(Duration.millis(100)).pipe(
  Schedule.upTo({ duration: Duration.millis(metadataWaitMs) })
)

/** Kafka's default socket.request.max.bytes (100 MiB). */
const defaultRequestMaxBytes = 104_857_600

export interface ClusterDescription {
  readonly clusterId: string
  readonly brokers: ReadonlyArray<{ readonly nodeId: number; readonly host: string; readonly port: number }>
  readonly controller: number | null
  /** The controller's (else first broker's) `auto.create.topics.enable`; undefined when it could not be read (ACLs). */
  readonly autoCreateTopicsEnabled: boolean | undefined
}

export class TopicAdmin extends Context.Service<
  TopicAdmin,
  {
    /**
     * Makes sure every topic exists (creating it when `kafka.createTopics` is on).
     * Topics already seen are remembered, so this costs nothing after the first call.
     */
    readonly ensureTopics: (topics: ReadonlyArray<string>) => Effect.Effect<void, KafkaTopicError>
    /**
     * The largest record (encoded, uncompressed, with its batch header) `topic`
     * accepts: the topic's max.message.bytes, and never more than a broker
     * reads in one request (socket.request.max.bytes: a larger request makes
     * it close the connection, which looks like an outage). Known once
     * ensureTopics has seen the topic; undefined when the broker would not say.
     */
    readonly recordLimit: (topic: string) => number | undefined
    /** Every topic the cluster shows this client (`outboxx check`). */
    readonly listTopics: Effect.Effect<ReadonlyArray<string>, KafkaTopicError>
    /**
     * Makes sure a compacted single-partition topic exists (the exactly-once
     * position), creating it when missing and `kafka.createTopics` allows.
     */
    readonly ensureCompactedTopic: (topic: string) => Effect.Effect<void, KafkaTopicError>
    /** The committed records of one partition, from its start to its last stable offset. */
    readonly readCommitted: (topic: string, partition: number) => Effect.Effect<ReadonlyArray<CommittedRecord>, KafkaTopicError>
    /** Forget that a topic exists (it was deleted under us); the next ensureTopics checks again. */
    readonly forget: (topics: ReadonlyArray<string>) => Effect.Effect<void>
    /** Brokers, controller and auto-create setting; fails within `timeout` when unreachable. */
    readonly describeCluster: (options?: {
      readonly timeoutMs?: number
    }) => Effect.Effect<ClusterDescription, KafkaUnreachableError>
  }
>()("outboxx/TopicAdmin") {
  static readonly layer = Layer.effect(
    TopicAdmin,
    Effect.gen(function*() {
      const client = yield* KafkaClient
      const { settings } = client
      const known = new Set<string>()
      const lock = yield* Semaphore.make(1)
      const backend = client.backend.admin()
      yield* Effect.addFinalizer(() => Effect.promise(() => backend.close()))

      /** Runs an admin call (each backend connects when needed: the broker may be down at startup). */
      const call = <A>(f: (admin: AdminBackend) => Promise<A>) =>
        Effect.tryPromise({ try: () => f(backend), catch: (cause) => cause })

      const topicError = (topics: ReadonlyArray<string>, what: string) => (cause: unknown) => {
        const failure = backend.classify(cause, { createTopics: settings.createTopics })
        return new KafkaTopicError({
          topics,
          retryable: failure.retryable,
          reason: `${what}${topics.length === 0 ? "" : ` ${topics.join(", ")}`}: ${failure.reason}`,
          cause
        })
      }

      const missingOf = (topics: ReadonlyArray<string>) =>
        call((a) => a.listTopics()).pipe(
          Effect.map((existing) => {
            const names = new Set(existing)
            return topics.filter((t) => !names.has(t))
          }),
          Effect.mapError(topicError(topics, "cannot list topics to check"))
        )

      const create = (topics: ReadonlyArray<string>) =>
        // -1 = the broker's num.partitions / default.replication.factor
        call((a) => a.createTopics(topics, settings.topicPartitions, settings.topicReplicationFactor)).pipe(
          // A race with another creator (TOPIC_ALREADY_EXISTS) is fine; the re-check below decides.
          Effect.catch((cause) =>
            missingOf(topics).pipe(
              Effect.flatMap((still) =>
                still.length === 0 ? Effect.void : Effect.fail(topicError(still, "cannot create topic(s)")(cause))
              )
            )
          ),
          // The controller answers CreateTopics before every broker's metadata cache has the
          // topic; on a loaded machine that takes seconds. Wait for it rather than failing a
          // send that would succeed a moment later.
          Effect.andThen(
            missingOf(topics).pipe(
              Effect.flatMap((still) =>
                still.length === 0
                  ? Effect.void
                  : Effect.fail(
                    new KafkaTopicError({
                      topics: still,
                      retryable: true,
                      reason: `topic(s) ${still.join(", ")} not visible in the metadata ` +
                        `${metadataWaitMs / 1000} s after creation`
                    })
                  )
              ),
              Effect.retry({ schedule: metadataWait, while: (e) => e.retryable && e.reason.includes("not visible") })
            )
          ),
          Effect.andThen(Effect.logInfo("created Kafka topics", topics))
        )

      // Called before every send: a span only when there is something to check (not on every send's trace).
      const ensureTopics = Effect.fnUntraced(function*(topics: ReadonlyArray<string>) {
        const unknown = topics.filter((t) => !known.has(t))
        if (unknown.length === 0) return
        yield* Effect.withSpan(lock.withPermit(
          Effect.gen(function*() {
            const toCheck = unknown.filter((t) => !known.has(t))
            if (toCheck.length === 0) return
            const missing = yield* missingOf(toCheck)
            if (missing.length > 0) {
              if (!settings.createTopics) {
                return yield* new KafkaTopicError({
                  topics: missing,
                  retryable: false,
                  reason: `Kafka topic(s) ${missing.map((t) => `"${t}"`).join(", ")} do not exist and ` +
                    `kafka.create_topics = false. Create them (e.g. kafka-topics.sh --create --topic ${missing[0]}), ` +
                    `or set kafka.create_topics = true to let outboxx create them ` +
                    `(outboxx does not rely on the broker's auto.create.topics.enable).`
                })
              }
              yield* create(missing)
            }
            for (const t of toCheck) known.add(t)
            yield* readLimits(toCheck)
          })
        ), "TopicAdmin.ensureTopics", { attributes: { "messaging.system": "kafka", "outboxx.topics": unknown } })
      })

      /** The broker's socket.request.max.bytes (Kafka's default when it will not say), read once. */
      let requestLimit: number | undefined
      const limits = new Map<string, number>()
      const readLimits = (topics: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          if (requestLimit === undefined) {
            const cluster = yield* call((a) => a.describeCluster())
            const nodeId = cluster.controller ?? cluster.brokers[0]?.nodeId
            const value = nodeId === undefined ? undefined : yield* call((a) => a.brokerConfig(nodeId, "socket.request.max.bytes"))
            requestLimit = value === undefined ? defaultRequestMaxBytes : Number(value)
          }
          const values = yield* call((a) => a.topicConfig(topics, "max.message.bytes"))
          for (const topic of topics) {
            const topicMax = Number(values.get(topic))
            // What a request carries besides the record batch: header, client id, topic name, partition.
            const requestRoom = requestLimit - 1024 - topic.length
            limits.set(topic, Number.isFinite(topicMax) && topicMax > 0 ? Math.min(topicMax, requestRoom) : requestRoom)
          }
        }).pipe(
          // Limits sharpen errors; not being allowed to read them must not stop delivery (the broker still refuses).
          Effect.catch((cause) => Effect.logDebug("cannot read the topics' max.message.bytes", String(cause)))
        )

      const recordLimit = (topic: string) => limits.get(topic)

      const forget = (topics: ReadonlyArray<string>) =>
        Effect.sync(() => {
          for (const t of topics) known.delete(t)
        })

      const readAutoCreate = (nodeId: number) =>
        call((a) => a.autoCreateTopics(nodeId)).pipe(
          // Not being allowed to read broker configs is not a connectivity problem.
          Effect.catch((cause) =>
            Effect.logDebug("cannot read auto.create.topics.enable", String(cause)).pipe(Effect.as(undefined))
          )
        )

      const describeCluster = Effect.fn("TopicAdmin.describeCluster")(
        function*(options?: { readonly timeoutMs?: number }) {
          const unreachable = (reason: string, cause?: unknown) =>
            new KafkaUnreachableError({ brokers: settings.brokers, reason, cause })
          const timeoutMs = options?.timeoutMs ?? kafkaTimeouts.adminTimeoutMs
          return yield* Effect.gen(function*() {
            const cluster = yield* call((a) => a.describeCluster()).pipe(
              Effect.mapError((cause) =>
                unreachable(backend.classify(cause, { createTopics: settings.createTopics }).reason, cause)
              )
            )
            const nodeId = cluster.controller ?? cluster.brokers[0]?.nodeId
            const autoCreateTopicsEnabled = nodeId === undefined ? undefined : yield* readAutoCreate(nodeId)
            return {
              clusterId: cluster.clusterId,
              brokers: cluster.brokers.map(({ host, nodeId, port }) => ({ nodeId, host, port })),
              controller: cluster.controller,
              autoCreateTopicsEnabled
            } satisfies ClusterDescription
          }).pipe(
            Effect.timeoutOrElse({
              duration: timeoutMs,
              orElse: () => Effect.fail(unreachable(`no answer within ${timeoutMs} ms`))
            })
          )
        }
      )

      const listTopics = call((a) => a.listTopics()).pipe(Effect.mapError(topicError([], "cannot list topics")))

      const ensureCompactedTopic = Effect.fn("TopicAdmin.ensureCompactedTopic")(function*(topic: string) {
        const missing = yield* missingOf([topic])
        if (missing.length === 0) return
        if (!settings.createTopics) {
          return yield* new KafkaTopicError({
            topics: [topic],
            retryable: false,
            reason: `topic ${topic} does not exist and kafka.create_topics = false; ` +
              `create it with 1 partition and cleanup.policy=compact`
          })
        }
        yield* call((a) =>
          a.createTopics([topic], 1, settings.topicReplicationFactor, {
            "cleanup.policy": "compact",
            // Small segments, so compaction keeps the topic a handful of records long.
            "segment.ms": String(60 * 60 * 1000),
            "segment.bytes": String(16 * 1024 * 1024)
          })
        ).pipe(
          // A race with another creator (TOPIC_ALREADY_EXISTS) is fine; the re-check decides.
          Effect.catch((cause) =>
            missingOf([topic]).pipe(
              Effect.flatMap((still) => still.length === 0 ? Effect.void : Effect.fail(topicError([topic], "cannot create topic")(cause)))
            )
          )
        )
        yield* Effect.logInfo("created Kafka topic", topic)
      })

      const readCommitted = (topic: string, partition: number) =>
        call((a) => a.readCommitted(topic, partition)).pipe(Effect.mapError(topicError([topic], "cannot read")))

      return TopicAdmin.of({ ensureTopics, recordLimit, listTopics, ensureCompactedTopic, readCommitted, forget, describeCluster })
    })
  )
}
