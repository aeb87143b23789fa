/**
 * `outboxx slot drop --yes`: drops the replication slot, and the publication
 * when outboxx created it (COMMENT 'managed by outboxx'). Refuses without
 * --yes (exit 2) and when the slot is in use (exit 1, naming the pid).
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import type { OutboxxSettings } from "../config/model.js"
import { publicationInfo, publicationOwner, slotInfo } from "../postgres/catalog.js"
import { connectClient, queryRows } from "../postgres/Postgres.js"
import { quoteIdent, quoteLiteral } from "../postgres/quote.js"
import { refuseWhenHeld, StateStore } from "../state/StateStore.js"
import { CommandFailed, UsageError } from "./errors.js"
import { loadConfiguredSettings } from "./root.js"

/**
 * Tells the state journal the slot is gone on purpose, so the next `run`
 * starts afresh (a new slot, a new snapshot) instead of refusing to start as
 * it does when a slot disappears while the journal still holds checkpoints.
 */
const forgetSlotInJournal = (settings: OutboxxSettings) =>
  Effect.gen(function*() {
    const journal = yield* StateStore
    yield* journal.claim(refuseWhenHeld(journal.location))
    yield* journal.append([{ _tag: "SlotLost", reason: "dropped with outboxx slot drop", at: new Date().toISOString() }])
    return `recorded the drop in the state journal ${journal.location}`
  }).pipe(
    Effect.scoped,
    Effect.provide(StateStore.layerFor(settings)),
    Effect.catch((error) =>
      Effect.succeed(
        `could not record the drop in the state journal (${error.message}); ` +
          `the next run refuses to start until postgres.on_slot_lost = "resnapshot" or that journal is removed`
      )
    )
  )

export const dropSlot = Effect.fn("dropSlot")(function*(settings: OutboxxSettings) {
  const client = yield* connectClient(settings.postgres.url, {
    applicationName: "outboxx slot drop",
    connectTimeoutMs: Math.max(1, Duration.toMillis(settings.postgres.connectTimeout))
  })
  const name = settings.postgres.slot
  const lines: Array<string> = []
  const slot = yield* slotInfo(client, name)
  if (slot === undefined) {
    lines.push(`slot ${quoteIdent(name)} does not exist; nothing to drop`)
  } else if (slot.active) {
    return yield* new CommandFailed({
      message: `slot ${quoteIdent(name)} is active, held by pid ${slot.activePid ?? "?"}; ` +
        `stop that process (outboxx run, or SELECT pg_terminate_backend(${slot.activePid ?? "pid"})) and try again`
    })
  } else {
    yield* queryRows(client, `SELECT pg_drop_replication_slot(${quoteLiteral(name)})`).pipe(
      // It may have become active between the look and the drop.
      Effect.mapError((e) => new CommandFailed({ message: `cannot drop slot ${quoteIdent(name)}: ${e.message}` }))
    )
    lines.push(`dropped slot ${quoteIdent(name)} (it was at ${slot.confirmedFlushLsn ?? "-"})`)
  }
  lines.push(yield* forgetSlotInJournal(settings))
  const pubName = settings.postgres.publication
  const publication = yield* publicationInfo(client, pubName)
  if (publication === undefined) {
    lines.push(`publication ${quoteIdent(pubName)} does not exist`)
  } else if (publicationOwner(publication) === name) {
    yield* queryRows(client, `DROP PUBLICATION ${quoteIdent(pubName)}`)
    lines.push(`dropped publication ${quoteIdent(pubName)} (created by outboxx for this slot)`)
  } else if (publicationOwner(publication) === null) {
    // An older Outboxx did not record the owner: another pipeline may stream from it.
    lines.push(
      `kept publication ${quoteIdent(pubName)} (created by an older outboxx without an owner; ` +
        `DROP PUBLICATION ${quoteIdent(pubName)} yourself once no other pipeline uses it)`
    )
  } else if (publicationOwner(publication) !== undefined) {
    lines.push(`kept publication ${quoteIdent(pubName)} (it belongs to the pipeline of slot ${quoteIdent(publicationOwner(publication)!)})`)
  } else {
    lines.push(`kept publication ${quoteIdent(pubName)} (not created by outboxx)`)
  }
  return lines
}, Effect.scoped)

const drop = Command.make(
  "drop",
  {
    yes: Flag.Boolean("yes").pipe(
      Flag.withDescription("Really drop it: the slot's position is lost and the next run starts over"),
      Flag.withDefault(false)
    )
  },
  Effect.fn("cli.slot.drop")(function*({ yes }) {
    const settings = yield* loadConfiguredSettings
    if (!yes) {
      return yield* new UsageError({
        message: `refusing to drop slot ${quoteIdent(settings.postgres.slot)} without --yes ` +
          `(its position is lost; the next run starts over with a new slot)`
      })
    }
    const lines = yield* dropSlot(settings)
    for (const line of lines) yield* Console.log(line)
  })
).pipe(Command.withDescription("Drop the replication slot (and the publication if outboxx created it)"))

export const slotCommand = Command.make("slot").pipe(
  Command.withDescription("Manage the replication slot"),
  Command.withSubcommands([drop])
)
