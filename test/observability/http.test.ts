import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpRouter from "effect/http/HttpRouter"
import { HealthState } from "../../src/observability/HealthState.js"
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
  it.effect("/healthz is 200 ok; /readyz is 503 with a JSON reason until streaming, then 200", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* get("/healthz"), { status: 200, body: "ok" })
      const notReady = yield* get("/readyz")
      assert.strictEqual(notReady.status, 503)
      assert.deepStrictEqual(JSON.parse(notReady.body), { ready: false, reason: "postgres not connected" })
      const health = yield* HealthState
      yield* health.update((h) => ({ ...h, postgres: { connected: true }, kafka: { connected: true } }))
      assert.deepStrictEqual(JSON.parse((yield* get("/readyz")).body), { ready: false, reason: "not streaming" })
      yield* health.update((h) => ({ ...h, role: "active", streaming: true, confirmedLsn: "0/16B3748" }))
      assert.deepStrictEqual(yield* get("/readyz"), { status: 200, body: "ready" })
      const status = JSON.parse((yield* get("/status")).body)
      assert.strictEqual(status.role, "active")
      assert.strictEqual(status.slot, "outboxx")
      assert.strictEqual(status.confirmedLsn, "0/16B3748")
    }).pipe(Effect.provide(TestServer)))

  it.effect("/metrics prints the INTERFACE.md names exactly", () =>
    Effect.gen(function*() {
      yield* Metric.update(Metric.withAttributes(Metrics.eventsTotal, { stream: "orders", table: "public.orders", op: "c" }), 3)
      yield* Metric.update(Metric.withAttributes(Metrics.kafkaMessagesTotal, { topic: "outboxx.public.orders" }), 2)
      yield* Metric.update(Metrics.replicationLagBytes, 1234)
      yield* Metric.update(Metrics.endToEndLatencySeconds, 0.05)
      const { body, status } = yield* get("/metrics")
      assert.strictEqual(status, 200)
      assert.include(body, `outboxx_events_total{stream="orders",table="public.orders",op="c"} 3`)
      assert.include(body, `outboxx_kafka_messages_total{topic="outboxx.public.orders"} 2`)
      assert.include(body, "outboxx_replication_lag_bytes 1234")
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
