import { describe, expect, it } from "vitest"
import { parseTransactionSnapshot, sees, type TransactionSnapshot } from "../../src/snapshot/visibility.js"
import { ChunkWindow, chunkKeyText, RecentChanges } from "../../src/snapshot/window.js"
import { foldByKey } from "./fold.js"

interface Row {
  readonly id: string
  readonly v: string
}
const row = (id: number, v = "x"): Row => ({ id: String(id), v })
const window = (id = "w1", recent?: RecentChanges) => new ChunkWindow<Row>(id, (r) => r.id, recent)
/** A snapshot that saw every transaction below 1000. */
const seesAll: TransactionSnapshot = { xmin: 1000, xmax: 1000, inProgress: new Set() }

describe("ChunkWindow (DBLog watermark window)", () => {
  it("emits every chunk row when the stream changed nothing inside the window", () => {
    const w = window()
    w.openAtLow()
    w.setRows([row(1), row(2), row(3)], seesAll)
    expect(w.closeAtHigh()).toEqual([row(1), row(2), row(3)])
    expect(w.phase).toBe("closed")
  })

  it("drops rows whose key the stream changed between the watermarks, keeping chunk order", () => {
    const w = window()
    w.openAtLow()
    w.observe("2")
    w.setRows([row(1), row(2), row(3), row(4)], seesAll)
    w.observe("4") // after the SELECT, before the high watermark: still inside
    w.observe("99") // a key outside the chunk: harmless
    expect(w.closeAtHigh()).toEqual([row(1), row(3)])
    expect([...w.changedKeys()].sort()).toEqual(["2", "4", "99"])
  })

  it("ignores changes before the low watermark and after the high watermark", () => {
    const w = window()
    w.observe("1") // the stream has not reached the low watermark yet
    w.openAtLow()
    w.setRows([row(1), row(2)], seesAll)
    expect(w.closeAtHigh()).toEqual([row(1), row(2)])
    w.observe("2")
    expect(w.changedKeys().has("2")).toBe(false)
  })

  it("drops the whole chunk when the table is truncated inside the window", () => {
    const w = window()
    w.openAtLow()
    w.setRows([row(1), row(2)], seesAll)
    w.observeTruncate()
    expect(w.closeAtHigh()).toEqual([])
  })

  it("is unusable (re-read the chunk) without a low watermark or without rows", () => {
    const noLow = window()
    noLow.setRows([row(1)], seesAll)
    expect(noLow.closeAtHigh()).toBeUndefined()
    const noRows = window()
    noRows.openAtLow()
    expect(noRows.closeAtHigh()).toBeUndefined()
  })

  it("keys by the text forms of the key columns, telling NULL from the text 'null' and column boundaries apart", () => {
    expect(chunkKeyText(["1", "2"])).not.toBe(chunkKeyText(["12"]))
    expect(chunkKeyText([null])).not.toBe(chunkKeyText(["null"]))
    expect(chunkKeyText(["a", "b"])).toBe(chunkKeyText(["a", "b"]))
  })

  it("folds to the table's state whatever the interleaving (simulated stream)", () => {
    // Table state over time; the stream carries every change in order; the SELECT
    // sees the state at a random point inside the window.
    for (let trial = 0; trial < 200; trial++) {
      const table = new Map<number, string>()
      for (let id = 1; id <= 20; id++) table.set(id, `v0-${id}`)
      const topic: Array<{ key: string; value: string | null }> = []
      const emitChange = (id: number) => {
        const v = table.get(id)
        topic.push({ key: JSON.stringify({ id }), value: v === undefined ? null : JSON.stringify({ op: "u", after: { id, v } }) })
      }
      const mutate = (step: number) => {
        const id = 1 + Math.floor(Math.random() * 24)
        if (Math.random() < 0.3) table.delete(id)
        else table.set(id, `v${step}-${id}`)
        return id
      }
      // Before the snapshot the topic holds nothing; the chunk covers keys 1..24.
      const w = window(`t${trial}`)
      w.openAtLow()
      const selectAt = Math.floor(Math.random() * 10)
      for (let step = 0; step < 10; step++) {
        if (step === selectAt) {
          w.setRows([...table.entries()].sort((a, b) => a[0] - b[0]).map(([id, v]) => ({ id: String(id), v })), seesAll)
        }
        const id = mutate(step + 1)
        w.observe(String(id))
        emitChange(id)
      }
      for (const r of w.closeAtHigh()!) {
        topic.push({ key: JSON.stringify({ id: Number(r.id) }), value: JSON.stringify({ op: "r", after: { id: Number(r.id), v: r.v } }) })
      }
      // Changes after the high watermark follow the snapshot rows.
      for (let step = 10; step < 15; step++) emitChange(mutate(step + 1))
      const expected = new Map([...table.entries()].map(([id, v]) => [JSON.stringify({ id }), { id, v }]))
      expect(foldByKey(topic)).toEqual(expected)
    }
  })
})

describe("changes before the window that the chunk's SELECT did not see", () => {
  it("drops a row that a transaction the SELECT's snapshot did not see changed before the low watermark", () => {
    // Transaction 500 committed (its change is in the stream before the low
    // watermark) but was still running for the snapshot taken after it.
    const recent = new RecentChanges()
    recent.add(500, "2")
    const w = window("w1", recent)
    w.openAtLow()
    w.setRows([row(1), row(2), row(3)], { xmin: 480, xmax: 520, inProgress: new Set([490, 500]) })
    expect(w.closeAtHigh()).toEqual([row(1), row(3)])
  })

  it("keeps rows that transactions the snapshot saw changed, and drops those of transactions from its xmax on", () => {
    const recent = new RecentChanges()
    recent.add(470, "1") // before xmin: seen
    recent.add(510, "2") // inside [xmin, xmax), not running: seen
    recent.add(530, "3") // from xmax on: not seen
    const w = window("w1", recent)
    w.openAtLow()
    w.setRows([row(1), row(2), row(3)], { xmin: 480, xmax: 520, inProgress: new Set([500]) })
    expect(w.closeAtHigh()).toEqual([row(1), row(2)])
  })

  it("forgets a transaction once a chunk's snapshot saw it, and remembers the others for the next chunk", () => {
    const recent = new RecentChanges()
    recent.add(470, "1")
    recent.add(530, "3")
    recent.add(530, "4")
    const first = window("w1", recent)
    first.openAtLow()
    first.setRows([row(1), row(2)], { xmin: 480, xmax: 520, inProgress: new Set() })
    expect(first.closeAtHigh()).toEqual([row(1), row(2)])
    expect(recent.size).toBe(1)
    // The next chunk (keys 3..4) still runs while 530 is invisible to its snapshot.
    const second = window("w2", recent)
    second.openAtLow()
    second.setRows([row(3), row(4), row(5)], { xmin: 525, xmax: 540, inProgress: new Set([530]) })
    expect(second.closeAtHigh()).toEqual([row(5)])
    const third = window("w3", recent)
    third.openAtLow()
    third.setRows([row(6)], { xmin: 600, xmax: 600, inProgress: new Set() })
    expect(third.closeAtHigh()).toEqual([row(6)])
    expect(recent.size).toBe(0)
  })

  it("folds to the table's state when transactions before the window become visible only after the SELECT (simulated)", () => {
    for (let trial = 0; trial < 300; trial++) {
      const table = new Map<number, string>()
      for (let id = 1; id <= 20; id++) table.set(id, `v0-${id}`)
      /** The table as a snapshot that does not see `hidden` transactions shows it. */
      const history: Array<{ xid: number; id: number; v: string | undefined }> = []
      const topic: Array<{ key: string; value: string | null }> = []
      const recent = new RecentChanges()
      const w = window(`t${trial}`, recent)
      let xid = 100
      const commit = () => {
        const id = 1 + Math.floor(Math.random() * 24)
        const v = Math.random() < 0.3 ? undefined : `x${xid}-${id}`
        if (v === undefined) table.delete(id)
        else table.set(id, v)
        history.push({ xid, id, v })
        recent.add(xid, String(id))
        w.observe(String(id))
        topic.push({ key: JSON.stringify({ id }), value: v === undefined ? null : JSON.stringify({ op: "u", after: { id, v } }) })
        xid++
      }
      for (let i = 0; i < 6; i++) commit()
      w.openAtLow()
      for (let i = 0; i < Math.floor(Math.random() * 4); i++) commit()
      // The SELECT: the last few transactions committed so far may still be invisible.
      const hidden = new Set(history.slice(-3).filter(() => Math.random() < 0.5).map((h) => h.xid))
      const seen = new Map<number, string>()
      for (let id = 1; id <= 20; id++) seen.set(id, `v0-${id}`)
      for (const h of history) {
        if (hidden.has(h.xid)) continue
        if (h.v === undefined) seen.delete(h.id)
        else seen.set(h.id, h.v)
      }
      w.setRows(
        [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([id, v]) => ({ id: String(id), v })),
        { xmin: Math.min(xid, ...hidden), xmax: xid, inProgress: hidden }
      )
      for (let i = 0; i < Math.floor(Math.random() * 4); i++) commit()
      for (const r of w.closeAtHigh()!) {
        topic.push({ key: JSON.stringify({ id: Number(r.id) }), value: JSON.stringify({ op: "r", after: { id: Number(r.id), v: r.v } }) })
      }
      const expected = new Map([...table.entries()].map(([id, v]) => [JSON.stringify({ id }), { id, v }]))
      expect(foldByKey(topic)).toEqual(expected)
    }
  })
})

describe("TransactionSnapshot", () => {
  it("parses pg_current_snapshot() text, with and without running transactions", () => {
    expect(parseTransactionSnapshot("10:20:12,15")).toEqual({ xmin: 10, xmax: 20, inProgress: new Set([12, 15]) })
    expect(parseTransactionSnapshot("795:795:")).toEqual({ xmin: 795, xmax: 795, inProgress: new Set() })
    expect(() => parseTransactionSnapshot("10:20")).toThrow(/not a pg_snapshot/)
    expect(() => parseTransactionSnapshot("10:x:")).toThrow(/not a transaction id/)
  })

  it("sees what finished before it: below xmin, or inside [xmin, xmax) and not running", () => {
    const s = parseTransactionSnapshot("10:20:12,15")
    expect([9, 10, 11, 12, 15, 19, 20, 25].map((x) => sees(s, x))).toEqual([true, true, true, false, false, true, false, false])
  })

  it("compares 32-bit ids modulo 2^32 across the wraparound of the 64-bit ids' low half", () => {
    // xmin just below 2^32, xmax just above: pgoutput's ids 4294967290 and 3 lie on either side.
    const s = parseTransactionSnapshot(`${2 ** 32 - 5}:${2 ** 32 + 5}:${2 ** 32 + 2}`)
    expect(s.xmax).toBe(5)
    expect(sees(s, 4294967290)).toBe(true)
    expect(sees(s, 3)).toBe(true)
    expect(sees(s, 2)).toBe(false)
    expect(sees(s, 6)).toBe(false)
  })
})
