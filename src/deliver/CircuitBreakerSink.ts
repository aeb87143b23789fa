/**
 * The Kafka sink behind a circuit breaker (effect/persistence CircuitBreaker).
 *
 * After three consecutive retryable failures (broker down, frozen, timing
 * out) the circuit opens: sends fail fast without touching Kafka, the stream
 * actors keep their batches and back off, their full mailboxes pause the
 * replication socket (status updates go on), and after the open period one
 * probe is let through. A successful probe closes the circuit and delivery
 * resumes where it stopped. Openings last 1 s, 2 s, 4 s, ... up to 30 s.
 *
 * Each change of state is logged once and shown on /status (`kafka.connected`)
 * and as `outboxx_kafka_circuit_open`. Permanent errors (a record too large,
 * authorization) do not count toward opening: they are the batch's problem,
 * not the broker's.
 */
import { Duration, Effect, Exit, Metric, Option, Schedule } from "effect"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import { connected, disconnected, HealthState } from "../observability/HealthState.js"
import { kafkaCircuitOpen } from "../observability/metrics.js"
import { type RecordSink, SinkError } from "./RecordSink.js"

const key = "kafka"

export const withCircuitBreaker = Effect.fnUntraced(function*(sink: RecordSink) {
  const breaker = yield* CircuitBreaker.make({
    tripPolicy: CircuitBreaker.consecutive(3),
    openDuration: Schedule.min([Schedule.exponential(Duration.seconds(1)), Schedule.spaced(Duration.seconds(30))])
  }).pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))
  const health = yield* HealthState

  /** The last retryable failure, the reason /status and /readyz give while the circuit is open. */
  let lastFailure = "Kafka failing"
  const kafkaState = (up: boolean) =>
    Effect.gen(function*() {
      yield* Metric.update(kafkaCircuitOpen, up ? 0 : 1)
      yield* health.update((h) => ({ ...h, kafka: up ? connected : disconnected(`circuit open: ${lastFailure}`) }))
    })

  // The breaker's state after each send; a change is logged once and shown on /status.
  let last: CircuitBreaker.State["_tag"] = "Closed"
  const observe = breaker.state(key).pipe(
    Effect.flatMap((state) => {
      if (state._tag === last) return Effect.void
      last = state._tag
      switch (state._tag) {
        case "Open":
          return Effect.logWarning(
            `Kafka circuit open after repeated failures: holding deliveries, next try in ${Duration.format(state.retryAfter)}`
          ).pipe(Effect.andThen(kafkaState(false)))
        case "HalfOpen":
          return Effect.logDebug("Kafka circuit half-open: probing with one batch")
        case "Closed":
          return Effect.logInfo("Kafka circuit closed: the broker answers again, delivery resumes").pipe(
            Effect.andThen(kafkaState(true))
          )
      }
    }),
    Effect.ignore
  )

  const classify = (exit: Exit.Exit<void, SinkError>): CircuitBreaker.Outcome =>
    Exit.isSuccess(exit)
      ? CircuitBreaker.success
      : Exit.findErrorOption(exit).pipe(Option.match({
        onNone: () => CircuitBreaker.ignored,
        onSome: (error) => {
          if (!error.retryable) return CircuitBreaker.ignored
          lastFailure = error.reason
          return CircuitBreaker.failure()
        }
      }))

  return {
    prepareTopics: sink.prepareTopics,
    ...(sink.copiesRecords === true ? { copiesRecords: true } : {}),
    ...(sink.recordLimit === undefined ? {} : { recordLimit: sink.recordLimit }),
    send: (records) =>
      sink.send(records).pipe(
        breaker.execute({ key, classify }),
        Effect.ensuring(observe),
        Effect.catchTag("CircuitBreakerError", (error) =>
          Effect.fail(new SinkError({ reason: `Kafka circuit ${error.reason._tag === "CircuitOpen" ? "open" : "probing"}: ${error.message}`, retryable: true })))
      )
  } satisfies RecordSink
})
