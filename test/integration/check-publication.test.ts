/**
 * ensurePublication (shared by the daemon and `check`) against the real
 * PostgreSQL: create with the managed marker, align the table set, leave a
 * matching one alone, and require it in "existing" mode.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { afterAll, beforeAll } from "vitest"
import type { OutboxxSettings, TableRef } from "../../src/config/model.js"
import { isManagedPublication, publicationInfo } from "../../src/postgres/catalog.js"
import { connectClient } from "../../src/postgres/Postgres.js"
import { ensurePublication } from "../../src/postgres/publication.js"
import { createTestDatabase, pgQuery, type TestDatabase } from "../support/servers.js"

let db: TestDatabase

beforeAll(async () => {
  db = await createTestDatabase("pub")
  await pgQuery(db.url, `CREATE SCHEMA "Sales"; CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE "Sales"."Items" (id int PRIMARY KEY)`)
})
afterAll(async () => db?.drop())

const settingsFor = (mode: "filtered" | "existing", tables: ReadonlyArray<TableRef>) =>
  ({
    postgres: { url: Redacted.make(db.url), publication: "Out_Pub", publicationMode: mode, slot: "out_slot" },
    streams: [{ tables, operations: new Set(["insert", "update", "delete", "truncate"]) }]
  }) as unknown as Pick<OutboxxSettings, "postgres" | "streams">

const orders = { schema: "public", name: "orders" }
const items = { schema: "Sales", name: "Items" }

describe("ensurePublication", () => {
  it.effect("creates, alters, keeps, and (existing mode) requires the publication", () =>
    Effect.gen(function*() {
      const client = yield* connectClient(Redacted.make(db.url))
      assert.strictEqual(yield* ensurePublication(client, settingsFor("filtered", [orders])), "created")
      const created = yield* publicationInfo(client, "Out_Pub")
      assert.isTrue(created !== undefined && isManagedPublication(created))
      assert.deepStrictEqual(created?.tables, [orders])
      assert.isTrue(created?.insert && created.update && created.delete && created.truncate)

      assert.strictEqual(yield* ensurePublication(client, settingsFor("filtered", [orders])), "unchanged")
      assert.strictEqual(yield* ensurePublication(client, settingsFor("filtered", [items])), "altered")
      assert.deepStrictEqual((yield* publicationInfo(client, "Out_Pub"))?.tables, [items])

      assert.strictEqual((yield* publicationInfo(client, "Out_Pub"))?.comment, "managed by outboxx (slot out_slot)")
      assert.isTrue((yield* publicationInfo(client, "Out_Pub"))?.viaRoot)

      assert.strictEqual(yield* ensurePublication(client, settingsFor("existing", [items])), "existing")
      const lacking = yield* Effect.flip(ensurePublication(client, settingsFor("existing", [orders, items])))
      assert.include(lacking.message, `publication "Out_Pub" does not publish "public"."orders", so their changes would never arrive`)
      yield* Effect.promise(() => pgQuery(db.url, `DROP PUBLICATION "Out_Pub"`))
      const missing = yield* Effect.flip(ensurePublication(client, settingsFor("existing", [orders])))
      assert.strictEqual(missing._tag, "PublicationError")
      assert.include(missing.message, `publication "Out_Pub" does not exist`)
    }).pipe(Effect.scoped))
})
