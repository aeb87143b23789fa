/**
 * The shard predicate: one text for the publication's row filter and the
 * snapshot's condition, from the key columns' types.
 */
import { describe, expect, it } from "vitest"
import { shardPredicate } from "../../src/postgres/shardFilter.js"

describe("shardPredicate", () => {
  it("hashes each key column with its type's immutable hash and keeps the result non-negative", () => {
    expect(shardPredicate([{ name: "id", type: "int8" }], { index: 2, count: 4 })).toBe("(((hashint8(\"id\")) % 4) + 4) % 4 = 2")
    expect(shardPredicate([{ name: "tenant", type: "varchar" }, { name: "Day", type: "date" }], { index: 0, count: 3 })).toBe(
      "(((hashtext(\"tenant\"::text) # hashint4(\"Day\" - '2000-01-01'::date)) % 3) + 3) % 3 = 0"
    )
  })

  it("refuses a table without a key, and a key type without a known hash, naming it", () => {
    expect(shardPredicate([], { index: 0, count: 2 })).toEqual({ refused: "it has no key (a primary key or a replica identity index)" })
    expect(shardPredicate([{ name: "at", type: "timestamptz" }], { index: 0, count: 2 })).toEqual({
      refused: "its key column \"at\" is of type timestamptz, which has no immutable hash function outboxx knows"
    })
  })
})
