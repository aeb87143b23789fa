import { describe, expect, it } from "vitest"
import type { CaptureFacts, PublicationInfo } from "../../src/postgres/catalog.js"
import { configuredTables, planPublication, publicationSql } from "../../src/postgres/publication.js"
import { minimalToml, settingsFrom } from "./settingsFixture.js"

const filtered = settingsFrom(
  minimalToml(`publication = "OutPub"`, `[[streams]]\nname = "a"\ntables = ["orders", "Sales.Items"]\n[[streams]]\nname = "b"\ntables = ["orders"]\n`)
)
const existingMode = settingsFrom(
  minimalToml(
    `publication = "pub"\npublication_mode = "existing"`,
    `[[streams]]\nname = "a"\ntables = ["orders", "items"]\noperations = ["insert", "delete"]\n`
  )
)

const publication = (over: Partial<PublicationInfo> = {}): PublicationInfo => ({
  name: "pub",
  allTables: false,
  insert: true,
  update: true,
  delete: true,
  truncate: true,
  viaRoot: true,
  comment: "managed by outboxx (slot outboxx)",
  tables: [{ schema: "public", name: "orders" }, { schema: "Sales", name: "Items" }],
  ownedByCurrentUser: true,
  generatedColumns: undefined,
  ...over
})

const orders = { schema: "public", name: "orders" }
const items = { schema: "Sales", name: "Items" }
const fact = (table: { schema: string; name: string }, over: Partial<CaptureFacts> = {}): CaptureFacts => ({
  table,
  kind: "r",
  ancestors: [],
  columns: ["id"],
  columnTypes: [20],
  inheritors: [],
  unlogged: false,
  keyless: [],
  ...over
})
const insertOnly = settingsFrom(
  minimalToml(`publication = "OutPub"`, `[[streams]]\nname = "log"\ntables = ["orders"]\noperations = ["insert"]\n`)
)

describe("planPublication", () => {
  it("lists each configured table once", () => {
    expect(configuredTables(filtered)).toEqual([orders, items])
  })

  it("creates a missing publication with quoted names, the streams' operations, partition roots and the owner marker", () => {
    const plan = planPublication(filtered, undefined, [fact(orders), fact(items)])
    expect(plan._tag).toBe("Create")
    expect(publicationSql("OutPub", plan, "outboxx")).toBe(
      `CREATE PUBLICATION "OutPub" FOR TABLE ONLY "public"."orders", ONLY "Sales"."Items" WITH (publish = 'insert, update, delete, truncate', ` +
        `publish_via_partition_root = true); COMMENT ON PUBLICATION "OutPub" IS 'managed by outboxx (slot outboxx)'`
    )
    expect(publicationSql("OutPub", planPublication(insertOnly, undefined), "outboxx")).toContain(`WITH (publish = 'insert', `)
  })

  it("leaves a matching publication alone and SETs the table list when it differs", () => {
    expect(planPublication(filtered, publication())._tag).toBe("Unchanged")
    const plan = planPublication(filtered, publication({ tables: [orders, { schema: "public", name: "old" }] }))
    expect(plan).toMatchObject({ _tag: "Alter", add: [items], remove: [{ schema: "public", name: "old" }] })
    expect(publicationSql("OutPub", plan, "outboxx")).toBe(`ALTER PUBLICATION "OutPub" SET TABLE ONLY "public"."orders", ONLY "Sales"."Items"`)
    const ops = planPublication(filtered, publication({ truncate: false, viaRoot: false }))
    expect(publicationSql("p", ops, "outboxx")).toBe(
      `ALTER PUBLICATION "p" SET (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)`
    )
  })

  it("refuses a publication another pipeline (slot) owns, or one outboxx did not create, and claims an older outboxx's", () => {
    const taken = planPublication(filtered, publication({ comment: "managed by outboxx (slot billing)" }))
    expect(taken).toMatchObject({ _tag: "Invalid" })
    expect(taken._tag === "Invalid" && taken.message).toContain(`belongs to the pipeline of slot "billing"`)
    const foreign = planPublication(filtered, publication({ comment: null }))
    expect(foreign._tag === "Invalid" && foreign.message).toContain("was not created by outboxx")
    const legacy = planPublication(filtered, publication({ comment: "managed by outboxx" }))
    expect(legacy).toMatchObject({ _tag: "Alter", claim: true, add: [], remove: [] })
    expect(publicationSql("OutPub", legacy, "outboxx")).toBe(`COMMENT ON PUBLICATION "OutPub" IS 'managed by outboxx (slot outboxx)'`)
  })

  it("refuses to manage a FOR ALL TABLES publication", () => {
    expect(planPublication(filtered, publication({ allTables: true }))._tag).toBe("Invalid")
  })

  it("refuses updates/deletes of a table without a usable replica identity, unless no stream of the pipeline captures them", () => {
    const keyless = [fact(orders, { keyless: [{ table: orders, replicaIdentity: "default" }] }), fact(items)]
    const plan = planPublication(filtered, undefined, keyless)
    expect(plan._tag).toBe("Invalid")
    if (plan._tag !== "Invalid") return
    expect(plan.message).toContain(`"public"."orders" has no usable replica identity`)
    expect(plan.message).toContain(`stream "a", "b" captures its updates/deletes`)
    expect(plan.fixes).toContain(`ALTER TABLE "public"."orders" REPLICA IDENTITY FULL (or add a primary key)`)
    expect(planPublication(insertOnly, undefined, [keyless[0]!])._tag).toBe("Create")
  })

  it("names the leaf partitions without an identity, and a partition captured beside its root", () => {
    const p1 = { schema: "public", name: "orders_2026" }
    const partitioned = planPublication(filtered, undefined, [
      fact(orders, { kind: "p", keyless: [{ table: p1, replicaIdentity: "nothing" }] }),
      fact(items)
    ])
    expect(partitioned._tag === "Invalid" && partitioned.message).toContain(
      `partitions of "public"."orders" have no usable replica identity: "public"."orders_2026" (REPLICA IDENTITY NOTHING)`
    )
    const both = settingsFrom(minimalToml("", `[[streams]]\nname = "a"\ntables = ["orders", "orders_2026"]\n`))
    const plan = planPublication(both, undefined, [fact(orders, { kind: "p" }), fact(p1, { ancestors: [orders] })])
    expect(plan._tag === "Invalid" && plan.message).toContain(
      `"public"."orders_2026" is a partition of "public"."orders", which publication "outboxx" publishes too`
    )
  })

  it("in existing mode requires the publication to fit: tables, operations and partition roots", () => {
    expect(planPublication(existingMode, undefined)._tag).toBe("Invalid")
    const plan = planPublication(existingMode, publication({ delete: false, tables: [orders] }))
    expect(plan._tag).toBe("Invalid")
    if (plan._tag !== "Invalid") return
    expect(plan.message).toContain(`does not publish "public"."items", so their changes would never arrive`)
    expect(plan.message).toContain(`does not publish delete`)
    expect(plan.fixes).toEqual([
      `ALTER PUBLICATION "pub" ADD TABLE "public"."items"`,
      `ALTER PUBLICATION "pub" SET (publish = 'insert, update, delete, truncate')`
    ])
    const fits = publication({ tables: [orders, { schema: "public", name: "items" }] })
    expect(planPublication(existingMode, fits)).toEqual({ _tag: "UseExisting" })
    const notViaRoot = planPublication(existingMode, { ...fits, viaRoot: false }, [fact(orders, { kind: "p" })])
    expect(notViaRoot._tag === "Invalid" && notViaRoot.message).toContain("publish_via_partition_root = false")
    expect(publicationSql("pub", planPublication(existingMode, fits), "outboxx")).toBe("")
  })
})
