import { describe, expect, it } from "vitest"
import type { PublicationInfo } from "../../src/postgres/catalog.js"
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
  comment: "managed by outboxx",
  tables: [{ schema: "public", name: "orders" }, { schema: "Sales", name: "Items" }],
  ownedByCurrentUser: true,
  ...over
})

describe("planPublication", () => {
  it("lists each configured table once", () => {
    expect(configuredTables(filtered)).toEqual([{ schema: "public", name: "orders" }, { schema: "Sales", name: "Items" }])
  })

  it("creates a missing publication with quoted names, all four operations and the managed marker", () => {
    const plan = planPublication(filtered, undefined)
    expect(plan._tag).toBe("Create")
    expect(publicationSql("OutPub", plan)).toBe(
      `CREATE PUBLICATION "OutPub" FOR TABLE "public"."orders", "Sales"."Items" WITH (publish = 'insert, update, delete, truncate'); ` +
        `COMMENT ON PUBLICATION "OutPub" IS 'managed by outboxx'`
    )
  })

  it("leaves a matching publication alone and SETs the table list when it differs", () => {
    expect(planPublication(filtered, publication())._tag).toBe("Unchanged")
    const plan = planPublication(filtered, publication({ tables: [{ schema: "public", name: "orders" }, { schema: "public", name: "old" }] }))
    expect(plan).toMatchObject({ _tag: "Alter", add: [{ schema: "Sales", name: "Items" }], remove: [{ schema: "public", name: "old" }] })
    expect(publicationSql("OutPub", plan)).toBe(`ALTER PUBLICATION "OutPub" SET TABLE "public"."orders", "Sales"."Items"`)
    const ops = planPublication(filtered, publication({ truncate: false }))
    expect(publicationSql("p", ops)).toBe(`ALTER PUBLICATION "p" SET (publish = 'insert, update, delete, truncate')`)
  })

  it("refuses to manage a FOR ALL TABLES publication", () => {
    expect(planPublication(filtered, publication({ allTables: true }))._tag).toBe("Invalid")
  })

  it("in existing mode requires the publication and reports what it lacks", () => {
    expect(planPublication(existingMode, undefined)._tag).toBe("Invalid")
    const plan = planPublication(existingMode, publication({ delete: false, tables: [{ schema: "public", name: "orders" }] }))
    expect(plan).toEqual({ _tag: "UseExisting", missingTables: [{ schema: "public", name: "items" }], missingOperations: ["delete"] })
    expect(publicationSql("pub", plan)).toBe("")
  })
})
