/**
 * `outboxx state show` prints the pipeline's state (the journal's fold) as
 * JSON; `outboxx state migrate --from file|postgres` copies it from that
 * backend into the configured one (`state.backend`), for a move between the
 * file journal and the shared table. Both refuse while a running instance
 * holds the state: the file journal's directory lock, or the shared table's
 * advisory lock.
 */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import type { OutboxxSettings } from "../config/model.js"
import { formatLsn } from "../postgres/lsn.js"
import { type JournalState, stateToEvents } from "../state/JournalState.js"
import { refuseWhenHeld, StateStore, type StateStoreShape } from "../state/StateStore.js"
import { CommandFailed, UsageError } from "./errors.js"
import { loadConfiguredSettings } from "./root.js"

type Backend = OutboxxSettings["state"]["backend"]

const withBackend = (settings: OutboxxSettings, backend: Backend) =>
  ({ ...settings, state: { ...settings.state, backend } }) satisfies OutboxxSettings

/** Opens and claims `backend`'s store for the scope; a held one is refused, never waited for. */
const openClaimed = (settings: OutboxxSettings, backend: Backend) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(StateStore.layerFor(withBackend(settings, backend)))
    const store = Context.get(context, StateStore)
    yield* store.claim(refuseWhenHeld(store.location))
    return store
  })

/** The state as JSON an operator can read: LSNs in PostgreSQL's text form. */
export const describeState = (state: JournalState) => ({
  slot: state.slot ?? null,
  checkpoint: state.checkpoint === undefined ? null : { lsn: formatLsn(state.checkpoint.lsn), at: state.checkpoint.at },
  snapshots: state.snapshots,
  snapshotFinished: state.snapshotFinished ?? null,
  role: state.role ?? null,
  slotLost: state.slotLost ?? null
})

const failed = (error: { readonly message: string }) => new CommandFailed({ message: error.message })

const summary = (store: StateStoreShape, state: JournalState): string => {
  const tables = Object.entries(state.snapshots)
  const done = tables.filter(([, p]) => p.status === "done").length
  return `${store.location}: slot ${state.slot?.slot ?? "-"}, checkpoint ${
    state.checkpoint === undefined ? "-" : formatLsn(state.checkpoint.lsn)
  }, ${done} of ${tables.length} table snapshots done`
}

const show = Command.make(
  "show",
  {},
  Effect.fn("cli.state.show")(function*() {
    const settings = yield* loadConfiguredSettings
    const store = yield* openClaimed(settings, settings.state.backend).pipe(Effect.mapError(failed))
    const state = yield* store.state
    yield* Console.log(JSON.stringify({ location: store.location, ...describeState(state) }, null, 2))
  }, Effect.scoped)
).pipe(Command.withDescription("Print the pipeline's state (slot, checkpoint, snapshot progress) as JSON"))

const migrate = Command.make(
  "migrate",
  {
    from: Flag.Literals("from", ["file", "postgres"]).pipe(
      Flag.withDescription("The backend to copy the state from; it goes into the configured state.backend")
    ),
    force: Flag.Boolean("force").pipe(Flag.withDescription("Replace state the configured backend already holds"), Flag.withDefault(false))
  },
  Effect.fn("cli.state.migrate")(function*({ force, from }) {
    const settings = yield* loadConfiguredSettings
    const to = settings.state.backend
    if (from === to) {
      return yield* new UsageError({
        message: `--from ${from} is the configured state.backend already; set state.backend to the backend to move to, ` +
          `then run outboxx state migrate --from ${from}`
      })
    }
    const source = yield* openClaimed(settings, from).pipe(Effect.mapError(failed))
    const target = yield* openClaimed(settings, to).pipe(Effect.mapError(failed))
    const state = yield* source.state
    const existing = yield* target.state
    if (stateToEvents(existing).length > 0 && !force) {
      return yield* new CommandFailed({
        message: `${target.location} already holds state (${summary(target, existing)}); ` +
          "pass --force to replace it"
      })
    }
    if (stateToEvents(state).length === 0) {
      return yield* new CommandFailed({ message: `${source.location} holds no state; nothing to migrate` })
    }
    yield* target.replaceAll(stateToEvents(state)).pipe(Effect.mapError(failed))
    yield* Console.log(`copied ${summary(source, state)}`)
    yield* Console.log(`into ${target.location}; state.backend = "${to}" resumes from it. ${source.location} is left as it was`)
  }, Effect.scoped)
).pipe(Command.withDescription("Copy the pipeline's state from one backend into the configured state.backend"))

export const stateCommand = Command.make("state").pipe(
  Command.withDescription("Show the pipeline's state, or move it between backends (file, postgres)"),
  Command.withSubcommands([show, migrate])
)
