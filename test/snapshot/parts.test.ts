import { describe, expect, it } from "vitest"
import type { JournalEvent } from "../../src/state/JournalEvent.js"
import { TableRun } from "../../src/snapshot/parts.js"
import type { TableTarget } from "../../src/snapshot/tableTarget.js"

const target = { plans: [{ topic: "t" }] } as unknown as TableTarget

const run = () => {
  const events: Array<JournalEvent> = []
  let done = 0
  const table = new TableRun("public.t", target, (event) => events.push(event), () => done++)
  return { table, events, done: () => done }
}

const keys = (events: ReadonlyArray<JournalEvent>) =>
  events.flatMap((e) => (e._tag === "SnapshotChunkDone" ? [e.highKey] : []))

describe("TableRun (the journaled key of a table read in parts)", () => {
  it("journals only the end of the delivered prefix: a later part's progress waits for the earlier ones", () => {
    const { table, events, done } = run()
    const a = table.addPart()
    const b = table.addPart()
    table.sent(b)
    table.delivered(b, 10, ["200"])
    // Part a has delivered nothing: no key can be journaled yet (resuming starts over).
    expect(keys(events)).toEqual([null])
    table.sent(a)
    table.delivered(a, 10, ["50"])
    expect(keys(events).at(-1)).toEqual(["50"])
    table.readDone(a)
    // a finished: the prefix runs through b's delivered chunk.
    expect(keys(events).at(-1)).toEqual(["200"])
    expect(done()).toBe(0)
    table.readDone(b)
    expect(done()).toBe(1)
    const last = events.at(-1)!
    expect(last._tag).toBe("SnapshotTableDone")
    expect(last._tag === "SnapshotTableDone" && last.rows).toBe(20)
  })

  it("a part that finishes reading before its chunks are delivered is finished at its last delivery", () => {
    const { table, events, done } = run()
    const a = table.addPart()
    table.sent(a)
    table.sent(a)
    table.readDone(a)
    table.delivered(a, 5, ["5"])
    expect(done()).toBe(0)
    table.delivered(a, 3, ["8"])
    expect(done()).toBe(1)
    expect(keys(events)).toEqual([["5"], ["8"]])
  })

  it("an empty table (one part, nothing read) is done at once", () => {
    const { table, events, done } = run()
    table.readDone(table.addPart())
    expect(done()).toBe(1)
    expect(events.map((e) => e._tag)).toEqual(["SnapshotTableDone"])
  })
})
