import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { checkpointCommitted, type JournalEvent } from "../../src/state/JournalEvent.js"
import { emptyJournalState, foldEvents, planAppend, stateToEvents } from "../../src/state/JournalState.js"
import { formatLsn, parseLsnOrUndefined } from "../../src/postgres/lsn.js"
import { journalEvent } from "./arbitraries.js"

const slot: JournalEvent = {
  _tag: "SlotIdentified",
  systemId: "7301",
  timeline: 1,
  database: "shop",
  slot: "outboxx",
  createdAt: "2026-11-23T20:00:00.000Z"
}
const T = "2026-11-23T20:00:00.000Z"

describe("LSN text", () => {
  it("formats like PostgreSQL and parses back", () => {
    expect(formatLsn(0x16b3748)).toBe("0/16B3748")
    expect(formatLsn(0x16_b374d848)).toBe("16/B374D848")
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
      expect(parseLsnOrUndefined(formatLsn(n))).toBe(n)
    }))
    expect(parseLsnOrUndefined("nope")).toBeUndefined()
  })
})

describe("journal fold", () => {
  it("keeps the highest checkpoint and snapshot progress per table", () => {
    const state = foldEvents([
      slot,
      checkpointCommitted(300, T),
      checkpointCommitted(200, T), // stale: ignored
      { _tag: "SnapshotStarted", table: "public.orders", at: T },
      { _tag: "SnapshotChunkDone", table: "public.orders", lowKey: null, highKey: [10], rows: 10 },
      { _tag: "SnapshotChunkDone", table: "public.orders", lowKey: [10], highKey: [20], rows: 7 },
      { _tag: "RoleChanged", role: "active", instance: "host-a", at: T }
    ])
    expect(state.checkpoint?.lsn).toBe(300)
    expect(state.snapshots["public.orders"]).toEqual({
      status: "running",
      startedAt: T,
      rows: 17,
      lastKey: [20],
      finishedAt: undefined
    })
    expect(state.role?.role).toBe("active")
  })

  it("drops positions of another slot or a lost slot", () => {
    const before = foldEvents([slot, checkpointCommitted(300, T)])
    const same = foldEvents([slot], before)
    expect(same.checkpoint?.lsn).toBe(300)
    const promoted = foldEvents([{ ...slot, timeline: 2 }], before) // same cluster, new timeline
    expect(promoted.checkpoint?.lsn).toBe(300)
    expect(promoted.slot?.timeline).toBe(2)
    const other = foldEvents([{ ...slot, createdAt: "2026-12-01T00:00:00.000Z" }], before)
    expect(other.checkpoint).toBeUndefined()
    const lost = foldEvents([{ _tag: "SlotLost", reason: "wal_removed", at: T }], before)
    expect(lost.slot).toBeUndefined()
    expect(lost.checkpoint).toBeUndefined()
    expect(lost.slotLost?.reason).toBe("wal_removed")
  })

  it("compaction's events fold back to the same state", () => {
    fc.assert(fc.property(fc.array(journalEvent, { maxLength: 60 }), (events) => {
      const state = foldEvents(events)
      expect(foldEvents(stateToEvents(state))).toEqual(state)
    }), { numRuns: 500 })
  })
})

describe("planAppend", () => {
  it("drops non-advancing checkpoints and keeps the last of a run", () => {
    const state = foldEvents([slot, checkpointCommitted(300, T)])
    const plan = planAppend(state, [
      checkpointCommitted(250, T),
      checkpointCommitted(400, T),
      checkpointCommitted(500, T),
      { _tag: "SnapshotStarted", table: "public.orders", at: T },
      checkpointCommitted(450, T),
      checkpointCommitted(600, T)
    ])
    expect(plan.write.map((e) => e._tag === "CheckpointCommitted" ? e.lsn : e._tag)).toEqual([
      formatLsn(500),
      "SnapshotStarted",
      formatLsn(600)
    ])
    expect(plan.next.checkpoint?.lsn).toBe(600)
    expect(planAppend(plan.next, [checkpointCommitted(600, T)]).write).toEqual([])
  })

  it("folds to the same state as the events it was given", () => {
    fc.assert(fc.property(fc.array(journalEvent, { maxLength: 20 }), fc.array(journalEvent, { maxLength: 20 }), (a, b) => {
      const state = foldEvents(a)
      const plan = planAppend(state, b)
      expect(plan.next).toEqual(foldEvents(b, state))
      expect(foldEvents(plan.write, state)).toEqual(plan.next)
    }))
  })

  it("starts from the empty state", () => {
    expect(planAppend(emptyJournalState, [checkpointCommitted(1, T)]).write).toHaveLength(1)
  })
})
