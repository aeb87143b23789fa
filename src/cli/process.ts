/**
 * The `outboxx` process: parse the command line, run the command, exit with
 * 0 (clean stop, SIGTERM/SIGINT included), 1 (runtime failure) or 2 (usage or
 * configuration error).
 *
 * runMain turns the first SIGTERM/SIGINT into an interruption, so finalizers
 * run (flush Kafka, confirm the LSN, close connections). A second signal while
 * that is under way exits at once.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { logProcessWarning } from "../observability/logging.js"
import { ExitCode, runCli, teardown } from "./index.js"

let signals = 0
const onSignal = (signal: NodeJS.Signals) => {
  signals++
  if (signals >= 2) {
    process.stderr.write(`outboxx: second ${signal}, exiting without a clean shutdown\n`)
    process.exit(ExitCode.failure)
  }
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

// kafkajs 2.2.4 arms timers with negative delays, and Node 24 warns about them on
// stderr. Its request queue's, an idle 1 ms poll, is switched off where kafkajs is
// loaded (deliver/kafka/kafkajs/module.ts); this keeps any other such warning out of the
// logs (Node clamps the delay to 1 ms). Every other warning is kept, as a log line
// in the configured format (not a raw stderr line inside the JSON stream).
process.removeAllListeners("warning")
process.on("warning", (warning) => {
  if (warning.name !== "TimeoutNegativeWarning") logProcessWarning(warning)
})

runCli(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown })
)
