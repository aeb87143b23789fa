/**
 * Slabs are reused only once every holder released them (SlabPool.ts): the
 * writer while it writes into one, and each outbox that took a part in it.
 */
import { assert, describe, it } from "@effect/vitest"
import { JsonBytes } from "../../../src/event/record/JsonBytes.js"
import { releaseSlabs, type Slab, SlabPool } from "../../../src/event/record/SlabPool.js"

const part = (out: JsonBytes, text: string): Buffer => {
  out.begin()
  out.utf8(text)
  return out.finish()
}

describe("SlabPool", () => {
  it("hands a released slab out again, and not before", () => {
    const pool = new SlabPool(64, 4)
    const a = pool.acquire()
    a.retain()
    a.release()
    assert.strictEqual(pool.freeCount, 0, "one holder left")
    a.release()
    assert.strictEqual(pool.freeCount, 1)
    assert.strictEqual(pool.acquire(), a)
    assert.strictEqual(pool.allocated, 1)
  })

  it("never pools a slab larger than its size, and keeps at most maxFree", () => {
    const pool = new SlabPool(64, 1)
    const big = pool.acquire(1000)
    assert.isAtLeast(big.buf.length, 1000)
    big.release()
    assert.strictEqual(pool.freeCount, 0)
    const [x, y] = [pool.acquire(), pool.acquire()]
    x.release()
    y.release()
    assert.strictEqual(pool.freeCount, 1)
  })

  it("refuses a release without a hold", () => {
    const slab = new SlabPool(64, 1).acquire()
    slab.release()
    assert.throws(() => slab.release(), /released more often/)
  })
})

describe("JsonBytes slab holds", () => {
  it("keeps parts intact until their outbox releases them, then reuses the slab", () => {
    const pool = new SlabPool(64, 8)
    const out = new JsonBytes(pool)
    const first: Array<Slab> = []
    const kept = [part(out, "aaaaaaaaaa"), part(out, "bbbbbbbbbb")]
    out.takeSlabs(first)
    assert.strictEqual(first.length, 1, "two parts, one slab, held once")
    // Write past that slab: the first "c" parts share it, then the writer moves on.
    const second: Array<Slab> = []
    for (let i = 0; i < 10; i++) {
      part(out, "cccccccccc")
      out.takeSlabs(second)
    }
    assert.strictEqual(second[0], first[0])
    assert.isAbove(second.length, 1)
    assert.strictEqual(pool.freeCount, 0)
    releaseSlabs(first)
    assert.strictEqual(pool.freeCount, 0, "the second outbox still holds it")
    assert.deepStrictEqual(kept.map(String), ["aaaaaaaaaa", "bbbbbbbbbb"], "not written over while held")
    releaseSlabs(second)
    // Every slab but the writer's current one is free now, the first among them.
    assert.strictEqual(pool.freeCount, second.length - 1)
    for (let i = 0; i < 30; i++) part(out, "dddddddddd")
    assert.notStrictEqual(String(kept[0]), "aaaaaaaaaa", "reused once released")
  })

  it("does not hand out a slab that an outbox still holds", () => {
    const pool = new SlabPool(32, 8)
    const out = new JsonBytes(pool)
    const held: Array<Slab> = []
    const parts: Array<Buffer> = []
    for (let i = 0; i < 50; i++) {
      parts.push(part(out, `part-${String(i).padStart(3, "0")}`))
      out.takeSlabs(held)
    }
    assert.deepStrictEqual(parts.map(String), Array.from({ length: 50 }, (_, i) => `part-${String(i).padStart(3, "0")}`))
    assert.strictEqual(pool.freeCount, 0)
    assert.strictEqual(new Set(held).size, held.length, "each slab held once per outbox")
  })
})
