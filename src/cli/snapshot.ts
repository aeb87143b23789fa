/**
 * `outboxx snapshot --table public.orders`: asks the running pipeline to
 * re-snapshot a table. Incremental snapshots have not landed yet.
 */
import * as Effect from "effect/Effect"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { NotLanded } from "./errors.js"

export const snapshotCommand = Command.make(
  "snapshot",
  {
    table: Flag.String("table").pipe(Flag.withDescription("The table to re-snapshot, e.g. public.orders"))
  },
  ({ table }) =>
    Effect.fail(
      new NotLanded({
        command: "snapshot",
        detail: `incremental snapshots are not implemented, so ${table} cannot be re-snapshotted on demand ` +
          `(workaround: outboxx slot drop --yes, then run with postgres.snapshot = "initial")`
      })
    )
).pipe(Command.withDescription("Ask the running pipeline to re-snapshot a table (not landed yet)"))
