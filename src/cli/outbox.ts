/**
 * `outboxx outbox install [--grant ROLE ...]` and `outboxx outbox uninstall`:
 * the SQL side of the WAL-message outbox in the configured database
 * (src/outbox/install.ts), as the role in `postgres.url`, which is the role
 * the daemon reads the publish key with.
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import type pg from "pg"
import type { OutboxxSettings } from "../config/model.js"
import { installOutbox, uninstallOutbox } from "../outbox/install.js"
import { databaseOf } from "../postgres/connection.js"
import { connectClient, type PostgresError } from "../postgres/Postgres.js"
import { CommandFailed } from "./errors.js"
import { loadConfiguredSettings } from "./root.js"

const connectFailed = (settings: OutboxxSettings) => (error: PostgresError) =>
  new CommandFailed({ message: `cannot connect to database ${JSON.stringify(databaseOf(settings.postgres.url))}: ${error.message}` })

const withClient = <A, E>(settings: OutboxxSettings, use: (client: pg.Client, database: string) => Effect.Effect<A, E>) =>
  connectClient(settings.postgres.url, {
    applicationName: "outboxx outbox",
    connectTimeoutMs: Math.max(1, Duration.toMillis(settings.postgres.connectTimeout))
  }).pipe(
    Effect.mapError(connectFailed(settings)),
    Effect.flatMap((client) => use(client, databaseOf(settings.postgres.url))),
    Effect.scoped
  )

const failed = (error: { readonly message: string }) => new CommandFailed({ message: error.message })

const install = Command.make(
  "install",
  {
    grant: Flag.String("grant").pipe(
      Flag.withDescription("A role that may call outboxx.publish (repeat for more)"),
      Flag.atLeast(0)
    )
  },
  Effect.fn("cli.outbox.install")(function*({ grant }) {
    const settings = yield* loadConfiguredSettings
    const lines = yield* withClient(settings, (client, database) => installOutbox(client, database, grant)).pipe(Effect.mapError(failed))
    for (const line of lines) yield* Console.log(line)
  })
).pipe(Command.withDescription("Create outboxx.publish(...) in the database (idempotent) and grant it to roles"))

const uninstall = Command.make(
  "uninstall",
  {},
  Effect.fn("cli.outbox.uninstall")(function*() {
    const settings = yield* loadConfiguredSettings
    const lines = yield* withClient(settings, (client, database) => uninstallOutbox(client, database)).pipe(Effect.mapError(failed))
    for (const line of lines) yield* Console.log(line)
  })
).pipe(Command.withDescription("Drop schema outboxx (the publish functions and key) from the database"))

export const outboxCommand = Command.make("outbox").pipe(
  Command.withDescription("Manage the transactional outbox's SQL functions (outboxx.publish)"),
  Command.withSubcommands([install, uninstall])
)
