/**
 * The same application as orders.ts, as an Effect program on
 * `@effect/sql-pg`: `publishEffect` runs on the SqlClient in context, so
 * inside `sql.withTransaction` it joins the order's transaction, and a
 * failure rolls back both the order and its event.
 *
 *   npm run build && npx tsc -p examples/publishing
 *   DATABASE_URL=postgres://app@127.0.0.1:5432/shop node examples/publishing/dist/orders-effect.js 3 orders.events
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { SqlClient } from "effect/sql"
import { publishEffect } from "outboxx/client"

const count = Number(process.argv[2] ?? 1)
const topic = process.argv[3] ?? "orders.events"
const firstId = Number(process.argv[4] ?? 1)

const placeOrder = (id: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`INSERT INTO orders (id, status) VALUES (${id}, 'placed')`
    return yield* publishEffect({
      topic,
      key: `order-${id}`,
      payload: { type: "OrderPlaced", orderId: id, via: "effect" },
      headers: { id: `order-${id}:placed`, type: "OrderPlaced" }
    })
  })

const program = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (let id = firstId; id < firstId + count; id++) {
    const lsn = yield* sql.withTransaction(placeOrder(id))
    yield* Console.log(JSON.stringify({ msg: "published", orderId: id, lsn }))
  }
  // Fails after publishing: the transaction rolls back, and with it the order and its event.
  const failed = yield* sql.withTransaction(placeOrder(firstId + count).pipe(Effect.andThen(Effect.fail("payment declined" as const)))).pipe(
    Effect.flip
  )
  yield* Console.log(JSON.stringify({ msg: "rolled back", orderId: firstId + count, reason: failed }))
})

program.pipe(
  Effect.provide(PgClient.layer({ url: Redacted.make(process.env["DATABASE_URL"] ?? "") })),
  NodeRuntime.runMain
)
