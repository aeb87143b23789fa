/**
 * Notices a dead broker while nothing is sent. Deliveries are the best probe
 * of Kafka (a failing send opens the circuit, CircuitBreakerSink.ts), but a
 * quiet database sends nothing, and a broker that died meanwhile would go
 * unnoticed until the next change. So every 10 s without a delivery, one
 * metadata request (TopicAdmin.describeCluster, 5 s timeout) checks that
 * the cluster answers; its result is Kafka's side of /readyz and /status.
 */
import { Duration, Effect, Metric, Schedule } from "effect"
import { connected, disconnected, HealthState } from "../../observability/HealthState.js"
import { kafkaErrorsTotal } from "../../observability/metrics.js"
import { TopicAdmin } from "./TopicAdmin.js"

export const kafkaProbeInterval = Duration.seconds(10)

/** Probes until the scope closes; never fails. */
export const probeKafkaWhenIdle = Effect.fnUntraced(function*() {
  const admin = yield* TopicAdmin
  const health = yield* HealthState
  const live = health.live
  /** Set when the probe itself marked Kafka down; only then may it mark it up (the circuit owns its own state). */
  let markedDown = false
  let markedDownAt = 0

  const lastDelivery = () => {
    let last = 0
    for (const stats of live.streams.values()) if (stats.lastDeliveredAt > last) last = stats.lastDeliveredAt
    return last
  }

  const markUp = Effect.gen(function*() {
    markedDown = false
    yield* health.update((h) => ({ ...h, kafka: connected }))
    yield* Effect.logInfo("Kafka answers again")
  })

  const probe = Effect.gen(function*() {
    const last = lastDelivery()
    // A delivery since the probe marked Kafka down proves it is back.
    if (markedDown && last > markedDownAt) return yield* markUp
    if (Date.now() - last < Duration.toMillis(kafkaProbeInterval)) return
    const result = yield* Effect.result(admin.describeCluster({ timeoutMs: 5_000 }))
    if (result._tag === "Success") {
      if (markedDown) yield* markUp
      return
    }
    yield* Metric.update(kafkaErrorsTotal, 1)
    if (markedDown) return
    markedDown = true
    markedDownAt = Date.now()
    yield* health.update((h) => ({ ...h, kafka: disconnected(result.failure.message) }))
    yield* Effect.logWarning(`Kafka does not answer (idle probe, retrying every 10s): ${result.failure.message}`)
  })

  // Untraced: a metadata request every 10 s while idle is not a trace anyone wants.
  return yield* probe.pipe(Effect.repeat(Schedule.spaced(kafkaProbeInterval)), Effect.withTracerEnabled(false))
})
