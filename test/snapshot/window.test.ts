import { describe, expect, it } from "vitest"
import { ChunkWindow, chunkKeyText } from "../../src/snapshot/window.js"
import { foldByKey } from "./fold.js"

interface Row {
  readonly id: string
  readonly v: string
}
const row = (id: number, v = "x"): Row => ({ id: String(id), v })
const window = (id = "w1") => new ChunkWindow<Row>(id, (r) => r.id)

describe("ChunkWindow (DBLog watermark window)", () => {
  it("emits every chunk row when the stream changed nothing inside the window", () => {
    const w = window()
    w.openAtLow()
    w.setRows([row(1), row(2), row(3)])
    expect(w.closeAtHigh()).toEqual([row(1), row(2), row(3)])
    expect(w.phase).toBe("closed")
  })

  it("drops rows whose key the stream changed between the watermarks, keeping chunk order", () => {
    const w = window()
    w.openAtLow()
    w.observe("2")
    w.setRows([row(1), row(2), row(3), row(4)])
    w.observe("4") // after the SELECT, before the high watermark: still inside
    w.observe("99") // a key outside the chunk: harmless
    expect(w.closeAtHigh()).toEqual([row(1), row(3)])
    expect([...w.changedKeys()].sort()).toEqual(["2", "4", "99"])
  })

  it("ignores changes before the low watermark and after the high watermark", () => {
    const w = window()
    w.observe("1") // the stream has not reached the low watermark yet
    w.openAtLow()
    w.setRows([row(1), row(2)])
    expect(w.closeAtHigh()).toEqual([row(1), row(2)])
    w.observe("2")
    expect(w.changedKeys().has("2")).toBe(false)
  })

  it("drops the whole chunk when the table is truncated inside the window", () => {
    const w = window()
    w.openAtLow()
    w.setRows([row(1), row(2)])
    w.observeTruncate()
    expect(w.closeAtHigh()).toEqual([])
  })

  it("is unusable (re-read the chunk) without a low watermark or without rows", () => {
    const noLow = window()
    noLow.setRows([row(1)])
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
          w.setRows([...table.entries()].sort((a, b) => a[0] - b[0]).map(([id, v]) => ({ id: String(id), v })))
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
