/**
 * `outboxx check [--json]`: the preflight report. Exit 0 when nothing FAILs
 * (warnings allowed), 1 otherwise, 2 for a configuration error.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import type { OutboxxSettings } from "../../config/model.js"
import { CommandFailed } from "../errors.js"
import { jsonFlag, loadConfiguredSettings } from "../root.js"
import { kafkaChecks } from "./kafkaChecks.js"
import { postgresChecks } from "./postgresChecks.js"
import { stateChecks } from "./stateChecks.js"
import { type CheckResult, fail, hasFailures, renderJson, renderText } from "./report.js"

/** Every check; never fails: a check that cannot run is a FAIL line. */
export const runChecks = (settings: OutboxxSettings): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.map(
    Effect.all(
      [
        postgresChecks(settings).pipe(
          Effect.catchDefect((defect) => Effect.succeed([fail("postgres checks", `could not run: ${String(defect)}`)]))
        ),
        kafkaChecks(settings),
        stateChecks(settings)
      ],
      { concurrency: 3 }
    ),
    ([pg, kafka, state]) => [...pg, ...state, ...kafka]
  )

export const checkCommand = Command.make(
  "check",
  { json: jsonFlag },
  Effect.fn("cli.check")(function*({ json }) {
    const settings = yield* loadConfiguredSettings
    const results = yield* runChecks(settings)
    yield* Console.log(json ? renderJson(results) : renderText(results))
    if (hasFailures(results)) return yield* new CommandFailed({ message: "" })
  })
).pipe(Command.withDescription("Preflight: check PostgreSQL, the tables, the slot and Kafka; exit 1 on any FAIL"))
