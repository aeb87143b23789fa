import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpRouter from "effect/http/HttpRouter"
import { connected, disconnected, HealthState } from "../../src/observability/HealthState.js"
import { routesLayer } from "../../src/observability/http.js"
import * as Metrics from "../../src/observability/metrics.js"

const get = (path: string) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.get(path)
    return { status: response.status, body: yield* response.text }
  })

const TestServer = HttpRouter.serve(routesLayer, { disableLogger: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layerTest),
  Layer.provideMerge(HealthState.layer("outboxx", "outboxx"))
)

describe("operator endpoints", () => {
  it.effect("/healthz is 200 ok; /readyz names the side that is down, is ready as a standby, and 200 when streaming", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* get("/healthz"), { status: 200, body: "ok" })
      const health = yield* HealthState
      const notReady = yield* get("/readyz")
      assert.strictEqual(notReady.status, 503)
      assert.deepStrictEqual(JSON.parse(notReady.body), { ready: false, role: "starting", reason: "postgres not connected" })
      // Kafka down at start while PostgreSQL answers: Kafka is named, with its error.
      yield* health.update((h) => ({ ...h, postgres: connected, kafka: disconnected("connection refused 127.0.0.1:9092") }))
      assert.deepStrictEqual(JSON.parse((yield* get("/readyz")).body), {
        ready: false,
        role: "starting",
        reason: "kafka not connected: connection refused 127.0.0.1:9092"
      })
      yield* health.update((h) => ({ ...h, kafka: connected }))
      assert.deepStrictEqual(JSON.parse((yield* get("/readyz")).body).reason, "not streaming")
      // A healthy standby is ready (restarting it would only lose the standby).
      yield* health.update((h) => ({ ...h, role: "standby" }))
      assert.deepStrictEqual(yield* get("/readyz"), { status: 200, body: "ready (standby)" })
      yield* health.update((h) => ({ ...h, role: "active", streaming: true }))
      assert.deepStrictEqual(yield* get("/readyz"), { status: 200, body: "ready" })
    }).pipe(Effect.provide(TestServer)))

  it.effect("/status and the lag gauges are computed from the live view at the moment they are read", () =>
    Effect.gen(function*() {
      const health = yield* HealthState
      const live = health.live
      // Before anything is known: lag bytes unknown (null / NaN), lag seconds 0.
      let status = JSON.parse((yield* get("/status")).body)
      assert.strictEqual(status.lagBytes, null)
      assert.strictEqual(status.lagSeconds, 0)
      assert.match((yield* get("/metrics")).body, /^outboxx_replication_lag_bytes NaN$/m)

      // Standby / not streaming: the server's WAL position against the slot's confirmed_flush_lsn.
      live.serverWalLsn = 0x3000
      live.slotConfirmedLsn = 0x1000
      status = JSON.parse((yield* get("/status")).body)
      assert.strictEqual(status.lagBytes, 0x2000)
      assert.strictEqual(status.serverLsn, "0/3000")

      // Streaming: the tracker's confirmed LSN, and the oldest unacknowledged commit's age.
      let confirmed = 0x2800
      const oldest = Date.now() - 20_000
      live.attach({ confirmed: () => confirmed, received: () => 0x2900, inFlight: () => 7, oldestPendingCommitMs: () => oldest })
      status = JSON.parse((yield* get("/status")).body)
      assert.strictEqual(status.lagBytes, 0x800)
      assert.strictEqual(status.confirmedLsn, "0/2800")
      assert.strictEqual(status.inFlight, 7)
      assert.isAtLeast(status.lagSeconds, 20)
      const metrics = (yield* get("/metrics")).body
      assert.match(metrics, /^outboxx_replication_lag_bytes 2048$/m)
      assert.match(metrics, /^outboxx_inflight_messages 7$/m)
      assert.strictEqual(Number(/^outboxx_replication_lag_seconds (\S+)$/m.exec(metrics)![1]) >= 20, true)

      // Streaming stops with changes undelivered: they stay behind (sent again after the restart).
      confirmed = 0x2a00
      live.detach()
      status = JSON.parse((yield* get("/status")).body)
      assert.isAtLeast(status.lagSeconds, 20)
      assert.strictEqual(status.confirmedLsn, "0/2A00")
      // Per-stream delivery counters.
      const stats = live.stream("orders")
      stats.delivered = 12
      stats.state = "retrying"
      stats.lastError = "broker down"
      status = JSON.parse((yield* get("/status")).body)
      assert.deepInclude(status.streams.orders, { state: "retrying", delivered: 12, lastError: "broker down" })
    }).pipe(Effect.provide(TestServer)))

  it.effect("/metrics prints the INTERFACE.md names exactly", () =>
    Effect.gen(function*() {
      yield* Metric.update(Metric.withAttributes(Metrics.eventsTotal, { stream: "orders", table: "public.orders", op: "c" }), 3)
      yield* Metric.update(Metric.withAttributes(Metrics.kafkaMessagesTotal, { topic: "outboxx.public.orders" }), 2)
      yield* Metric.update(Metrics.endToEndLatencySeconds, 0.05)
      const { body, status } = yield* get("/metrics")
      assert.strictEqual(status, 200)
      assert.include(body, `outboxx_events_total{stream="orders",table="public.orders",op="c"} 3`)
      assert.include(body, `outboxx_kafka_messages_total{topic="outboxx.public.orders"} 2`)
      // Build info, process metrics, and the circuit gauge are there from the first scrape.
      assert.match(body, /^outboxx_build_info\{version="[^"]+",node_version="v\d+[^"]*"\} 1$/m)
      assert.match(body, /^process_resident_memory_bytes \d+$/m)
      assert.match(body, /^outboxx_kafka_circuit_open 0$/m)
      assert.include(body, "# TYPE outboxx_end_to_end_latency_seconds histogram")
      // Unlabelled series are there from the first scrape.
      assert.match(body, /^outboxx_transactions_total 0$/m)
      assert.match(body, /^outboxx_inflight_messages 0$/m)
      for (
        const name of [
          "outboxx_transactions_total",
          "outboxx_wal_bytes_total",
          "outboxx_kafka_errors_total",
          "outboxx_replication_lag_seconds",
          "outboxx_confirmed_lsn",
          "outboxx_inflight_messages",
          "outboxx_snapshot_rows_total"
        ]
      ) {
        // Every metric is declared in metrics.ts with its full name (no prefix is added on export).
        assert.isTrue(Metrics.allMetrics.some((m) => m.id === name), name)
      }
      assert.notInclude(body, "outboxx_outboxx_")
    }).pipe(Effect.provide(TestServer)))
})
