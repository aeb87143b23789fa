import { describe, expect, it } from "vitest"
import { decideSlot, type ServerSlotView } from "../../src/replication/SlotGuard.js"
import { emptyJournalState, type JournalState } from "../../src/state/JournalState.js"

const server = (over: Partial<ServerSlotView> = {}): ServerSlotView => ({
  systemId: "7300000000000000001",
  timeline: 1,
  database: "shop",
  slot: "outboxx",
  exists: true,
  walStatus: "reserved",
  ...over
})

const journal = (over: Partial<JournalState> = {}): JournalState => ({
  ...emptyJournalState,
  slot: { systemId: "7300000000000000001", timeline: 1, database: "shop", slot: "outboxx", createdAt: "2026-01-01T00:00:00.000Z" },
  checkpoint: { lsn: 0x16b3748, at: "2026-01-01T00:01:00.000Z" },
  ...over
})

const decide = (j: JournalState, s: ServerSlotView, mode: "fail" | "resnapshot" = "fail") =>
  decideSlot(j, s, mode, "/var/lib/outboxx/journal", "2026-01-02T00:00:00.000Z")

describe("SlotGuard.decideSlot", () => {
  it("proceeds on a fresh journal, whether the slot exists or not", () => {
    expect(decide(emptyJournalState, server())._tag).toBe("Proceed")
    expect(decide(emptyJournalState, server({ exists: false }))._tag).toBe("Proceed")
  })

  it("proceeds when the journaled slot is still there", () => {
    expect(decide(journal(), server())._tag).toBe("Proceed")
  })

  it("proceeds on a new timeline of the same cluster (a promotion keeps positions)", () => {
    expect(decide(journal(), server({ timeline: 2 }))._tag).toBe("Proceed")
  })

  it("refuses another cluster's system id, naming both ids and the journal", () => {
    const d = decide(journal(), server({ systemId: "7399999999999999999" }))
    expect(d._tag).toBe("Refuse")
    if (d._tag !== "Refuse") return
    expect(d.reason).toContain("7300000000000000001")
    expect(d.reason).toContain("7399999999999999999")
    expect(d.reason).toContain("/var/lib/outboxx/journal")
  })

  it("refuses another cluster even in resnapshot mode", () => {
    expect(decide(journal(), server({ systemId: "1" }), "resnapshot")._tag).toBe("Refuse")
  })

  it("refuses when the slot is gone while the journal holds a checkpoint, naming the option", () => {
    const d = decide(journal(), server({ exists: false }))
    expect(d._tag).toBe("Refuse")
    if (d._tag !== "Refuse") return
    expect(d.reason).toContain("is gone")
    expect(d.reason).toContain("0/16B3748")
    expect(d.reason).toContain("on_slot_lost")
  })

  it("refuses an invalidated (wal_status lost) slot", () => {
    const d = decide(journal(), server({ walStatus: "lost" }))
    expect(d._tag).toBe("Refuse")
    if (d._tag !== "Refuse") return
    expect(d.reason).toContain("invalidated")
  })

  it("resnapshot: journals SlotLost and recreates; drops an invalidated slot first", () => {
    const gone = decide(journal(), server({ exists: false }), "resnapshot")
    expect(gone._tag).toBe("Resnapshot")
    if (gone._tag !== "Resnapshot") return
    expect(gone.dropSlot).toBe(false)
    expect(gone.events.map((e) => e._tag)).toEqual(["SlotLost"])
    const lost = decide(journal(), server({ walStatus: "lost" }), "resnapshot")
    expect(lost._tag === "Resnapshot" && lost.dropSlot).toBe(true)
  })

  it("proceeds when the slot is gone but nothing was checkpointed yet", () => {
    expect(decide(journal({ checkpoint: undefined }), server({ exists: false }))._tag).toBe("Proceed")
  })

  it("a renamed slot in the config is a new slot, not a loss", () => {
    expect(decide(journal(), server({ slot: "other", exists: false }))._tag).toBe("Proceed")
  })
})
