/**
 * Snapshot signals are authenticated. Any role may call
 * pg_logical_emit_message (PUBLIC can execute it), so a message with our
 * prefix proves nothing about who wrote it. A signal carries an HMAC-SHA256
 * of its fields under a key that only the pipeline and its operators can
 * read; the daemon acts on a signal only when the MAC verifies, and logs and
 * counts every other one (docs/snapshots.md, "Who may send signals").
 *
 * The key: `OUTBOXX_SIGNAL_KEY` when set (a standby on another machine, or an
 * operator without access to the state directory, needs the same value),
 * else `<state.dir>/signal.key`, 32 random bytes created by the daemon with
 * mode 0600 on its first start.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import * as fs from "node:fs/promises"
import path from "node:path"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { OutboxxSettings } from "../config/model.js"
import type { SnapshotSignal } from "./messages.js"

export class SignalKeyError extends Schema.TaggedError<SignalKeyError>()("SignalKeyError", {
  message: Schema.String
}) {}

export const signalKeyFile = (settings: Pick<OutboxxSettings, "state">): string =>
  path.join(settings.state.dir, "signal.key")

const fromText = (text: string, where: string): Redacted.Redacted<Buffer> | SignalKeyError => {
  const trimmed = text.trim()
  if (trimmed.length < 32) {
    return new SignalKeyError({ message: `${where}: the signal key must be at least 32 characters (it is ${trimmed.length})` })
  }
  return Redacted.make(Buffer.from(trimmed, "utf8"))
}

/**
 * The signal key. `create`: the daemon makes the key file when neither it nor
 * the variable exists; `outboxx snapshot` never does (a key only it knew
 * would authenticate nothing the daemon accepts).
 */
export const loadSignalKey = Effect.fn("loadSignalKey")(function*(
  settings: Pick<OutboxxSettings, "state">,
  options: { readonly create: boolean }
): Effect.fn.Return<Redacted.Redacted<Buffer>, SignalKeyError> {
  const fromEnv = yield* Config.option(Config.Redacted("OUTBOXX_SIGNAL_KEY")).pipe(
    Effect.orElseSucceed(() => Option.none<Redacted.Redacted<string>>())
  )
  if (Option.isSome(fromEnv)) {
    const key = fromText(Redacted.value(fromEnv.value), "OUTBOXX_SIGNAL_KEY")
    return key instanceof SignalKeyError ? yield* key : key
  }
  const file = signalKeyFile(settings)
  const existing = yield* Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) => cause as NodeJS.ErrnoException
  }).pipe(
    Effect.map((text): string | undefined => text),
    Effect.catch((cause) =>
      cause.code === "ENOENT"
        ? Effect.succeed(undefined)
        : Effect.fail(new SignalKeyError({ message: `cannot read the signal key ${file}: ${cause.message}` }))
    )
  )
  if (existing !== undefined) {
    const key = fromText(existing, file)
    return key instanceof SignalKeyError ? yield* key : key
  }
  if (!options.create) {
    return yield* new SignalKeyError({
      message: `no signal key: ${file} does not exist and OUTBOXX_SIGNAL_KEY is not set ` +
        `(outboxx run creates the file on its first start; from another machine, set OUTBOXX_SIGNAL_KEY to the daemon's key)`
    })
  }
  const text = randomBytes(32).toString("hex")
  yield* Effect.tryPromise({
    try: async () => {
      await fs.mkdir(settings.state.dir, { recursive: true })
      // wx: two daemons starting at once never overwrite each other's key.
      await fs.writeFile(file, `${text}\n`, { mode: 0o600, flag: "wx" })
    },
    catch: (cause) => cause as NodeJS.ErrnoException
  }).pipe(
    Effect.catch((cause) =>
      cause.code === "EEXIST"
        ? Effect.void
        : Effect.fail(new SignalKeyError({ message: `cannot create the signal key ${file}: ${cause.message}` }))
    )
  )
  yield* Effect.logInfo(`created the signal key ${file} (outboxx snapshot signs its requests with it)`)
  return yield* loadSignalKey(settings, { create: false })
})

/** What the MAC covers: every field the daemon acts on, unambiguously joined. */
const signedText = (signal: Omit<SnapshotSignal, "mac">): string =>
  JSON.stringify([signal.type, signal.slot, signal.requestedAt, signal.tables])

export const signalMac = (key: Redacted.Redacted<Buffer>, signal: Omit<SnapshotSignal, "mac">): string =>
  createHmac("sha256", Redacted.value(key)).update(signedText(signal)).digest("hex")

/** True when the signal carries a MAC made with `key`. */
export const verifySignal = (key: Redacted.Redacted<Buffer>, signal: SnapshotSignal): boolean => {
  if (signal.mac === undefined || !/^[0-9a-f]{64}$/.test(signal.mac)) return false
  return timingSafeEqual(Buffer.from(signalMac(key, signal), "hex"), Buffer.from(signal.mac, "hex"))
}
