import { assert, describe, it } from "@effect/vitest"
import { HeldBytes, recordBytes } from "../../src/deliver/HeldBytes.js"
import { emptyOutbox, type Outbox } from "../../src/deliver/Outbox.js"
import { SlabRecord } from "../../src/event/record/SlabRecord.js"

const outboxOf = (valueBytes: number): Outbox => {
  const outbox = emptyOutbox()
  outbox.records.push({ topic: "t", key: "k", value: Buffer.alloc(valueBytes) })
  return outbox
}

describe("HeldBytes", () => {
  it("counts the key and value bytes of plain and slab records", () => {
    const slab = Buffer.from(`{"id":1}{"op":"c"}`)
    assert.strictEqual(
      recordBytes([
        { topic: "t", key: "ab", value: Buffer.alloc(10) },
        { topic: "t", key: null, value: null },
        SlabRecord.make("t", slab, 0, 8, slab, 8, 10),
        SlabRecord.make("t", slab, 0, 8, slab, 8, 10).tombstone()
      ]),
      2 + 10 + 18 + 8
    )
  })

  it("is full at its limit and tells its listeners once releases bring it under half", () => {
    const held = new HeldBytes(100)
    let told = 0
    held.onRoom(() => told++)
    const a = outboxOf(60)
    const b = outboxOf(50)
    held.charge(a)
    assert.isFalse(held.full)
    held.charge(b)
    held.charge(b) // an outbox is charged once
    assert.strictEqual(held.bytes, 1 + 60 + 1 + 50)
    assert.isTrue(held.full)
    held.release([a])
    assert.isFalse(held.full)
    assert.strictEqual(told, 0) // 51 is not under half (50)
    held.release([b, b, emptyOutbox()]) // released once; never-charged outboxes count nothing
    assert.strictEqual(held.bytes, 0)
    assert.strictEqual(told, 1)
    assert.strictEqual(held.peak, 112)
  })
})
