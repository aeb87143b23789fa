/**
 * An Effect application that embeds Outboxx: its own HTTP endpoint and its
 * own logger, with Outboxx streaming the tables of `outboxx.toml` to Kafka
 * beside it and Outboxx's operator routes (/healthz, /readyz, /status,
 * /metrics) mounted on the application's server.
 *
 *   npm run build && npx tsc -p examples/embedded
 *   node examples/embedded/dist/main.js outboxx.toml
 *
 * SIGTERM or Ctrl-C stops both gracefully: runMain interrupts the program,
 * and closing Outboxx's layer drains, flushes and sends the final status update.
 */
import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Runtime from "effect/Runtime"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Outboxx } from "outboxx"

const configPath = process.argv[2] ?? "outboxx.toml"
const port = Number(process.env["PORT"] ?? 8080)

/** The application's own endpoint: it reads Outboxx's health like any other service. */
const appRoutes = HttpRouter.use((router) =>
  router.add(
    "GET",
    "/orders/replication",
    Effect.gen(function*() {
      const outboxx = yield* Outboxx
      const health = yield* outboxx.health
      return HttpServerResponse.jsonUnsafe({ app: "orders", streaming: health.streaming, confirmedLsn: health.confirmedLsn })
    })
  )
)

/** One server for both: the application's routes and Outboxx's. */
const server = HttpRouter.serve(Layer.mergeAll(appRoutes, Outboxx.routes)).pipe(
  Layer.provide(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port }))
)

const program = Effect.gen(function*() {
  const outboxx = yield* Outboxx
  yield* Effect.logInfo(`orders app listening on 127.0.0.1:${port}, outboxx embedded (slot ${outboxx.settings.postgres.slot})`)
  // Outboxx retries transient failures itself; this ends only on a permanent one.
  return yield* outboxx.awaitStopped
})

/** A stop by signal is a clean stop: exit 0 (runMain's default for an interruption is 130). */
const teardown: Runtime.Teardown = (exit, onExit) => Runtime.defaultTeardown(exit, (code) => onExit(code === 130 ? 0 : code))

program.pipe(
  Effect.provide(server.pipe(Layer.provideMerge(Outboxx.layerFromFile(configPath)))),
  // The application's logger: Outboxx's logs come out through it too.
  Effect.provide(Logger.layer([Logger.consoleJson])),
  NodeRuntime.runMain({ teardown })
)
