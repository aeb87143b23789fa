// Fault-suite fallback for `outboxx run` while the CLI seam (src/cli/pipelineSeam.ts)
// is not wired: the same composition as `run` (settings, telemetry with /status,
// the Kafka + journal pipeline), from the built dist/. Usage: node daemon.mjs <config.toml>
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { decodeSettings } from "../../dist/config/decode.js"
import { Settings } from "../../dist/config/Settings.js"
import { Telemetry } from "../../dist/observability/Telemetry.js"
import { runDaemon } from "../../dist/pipeline/commands.js"

const file = Path.resolve(process.argv[2])
const decoded = decodeSettings(readFileSync(file, "utf8"), { path: file, env: process.env })
if (Result.isFailure(decoded)) {
  process.stderr.write(decoded.failure.message + "\n")
  process.exit(2)
}
const settings = decoded.success
const program = Effect.logInfo("outboxx starting", { slot: settings.postgres.slot }).pipe(
  Effect.andThen(runDaemon(settings)),
  Effect.provide(Layer.mergeAll(Settings.layer(settings), Telemetry.layer(settings, { serviceVersion: "faults", http: true }))),
  Effect.tapCause((cause) => Effect.sync(() => process.stderr.write(`outboxx: ${String(cause)}\n`)))
)
NodeRuntime.runMain(program, { disableErrorReporting: true })
