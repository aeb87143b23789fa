import { EventEmitter } from "node:events"
import type pg from "pg"
import { describe, expect, it } from "vitest"
import { copyDataTap } from "../../src/postgres/copyData.js"

/** A backend message: type byte, int32 length (itself included), payload. */
const message = (type: string, payload: Buffer | string): Buffer => {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload
  const out = Buffer.alloc(5 + body.length)
  out[0] = type.charCodeAt(0)
  out.writeInt32BE(4 + body.length, 1)
  body.copy(out, 5)
  return out
}

/**
 * A client shaped as pg's: a connection whose stream has one `data` listener
 * (pg's parser, here recording what it is given). The tap only sees that.
 */
const fakeClient = () => {
  const stream = new EventEmitter() as EventEmitter & { destroy: (error?: Error) => void; destroyed: Error | undefined }
  stream.destroyed = undefined
  stream.destroy = (error) => {
    stream.destroyed = error
  }
  const toPg: Array<Buffer> = []
  stream.on("data", (chunk: Buffer) => toPg.push(Buffer.from(chunk)))
  const client = { connection: { stream } } as unknown as pg.Client
  return { client, stream, pgBytes: () => Buffer.concat(toPg) }
}

// A COPY's conversation: CopyOutResponse, rows (one of 40 KB), CopyDone, CommandComplete, a notice, ReadyForQuery.
const rows = ["1\tone\n", "2\t" + "x".repeat(40_000) + "\n", "3\t\n", ""]
const before = message("H", Buffer.from([0, 0, 2, 0, 0, 0, 0]))
const after = Buffer.concat([message("c", ""), message("C", "COPY 4\0"), message("N", "SNOTICE\0\0"), message("Z", "I")])
const wire = Buffer.concat([before, ...rows.map((row) => message("d", row)), after])

describe("copyDataTap (CopyData messages straight off the socket)", () => {
  it("hands every CopyData payload to the handler and every other message to pg, whole and in order, however the socket cuts the bytes", () => {
    // Cut points: every split into two chunks around the messages' edges, and one-byte chunks.
    const cuts: Array<Array<number>> = [[wire.length]]
    for (let at = 1; at < 40; at++) cuts.push([at, wire.length])
    for (let at = wire.length - 60; at < wire.length; at++) cuts.push([at, wire.length])
    cuts.push([20_000, 40_001, wire.length])
    cuts.push(Array.from({ length: wire.length }, (_, i) => i + 1).filter((i) => i < 200 || i > wire.length - 100 || i % 997 === 0))
    for (const ends of cuts) {
      const { client, stream, pgBytes } = fakeClient()
      const tap = copyDataTap(client)!
      const events: Array<string> = []
      const got: Array<string> = []
      tap.route((bytes, start, end) => {
        got.push(bytes.toString("utf8", start, end))
        events.push(`row at pg byte ${pgBytes().length}`)
      })
      let from = 0
      for (const end of ends) {
        stream.emit("data", wire.subarray(from, end))
        from = end
      }
      expect(got).toEqual(rows)
      expect(pgBytes().equals(Buffer.concat([before, after]))).toBe(true)
      // Every row came after CopyOutResponse had reached pg, and before CopyDone did.
      expect(events.every((e) => e === `row at pg byte ${before.length}`)).toBe(true)
      expect(stream.destroyed).toBeUndefined()
    }
  })

  it("without a routed handler, or after it is unrouted, everything goes to pg", () => {
    const { client, stream, pgBytes } = fakeClient()
    const tap = copyDataTap(client)!
    stream.emit("data", wire.subarray(0, 100))
    const got: Array<string> = []
    const stop = tap.route((bytes, start, end) => got.push(bytes.toString("utf8", start, end)))
    stop()
    stream.emit("data", wire.subarray(100))
    expect(got).toEqual([])
    expect(pgBytes().equals(wire)).toBe(true)
  })

  it("is installed once per client, and not at all on a stream that is not pg's one parser", () => {
    const { client } = fakeClient()
    expect(copyDataTap(client)).toBe(copyDataTap(client))
    const odd = fakeClient()
    odd.stream.on("data", () => undefined)
    expect(copyDataTap(odd.client)).toBeUndefined()
    expect(copyDataTap({} as pg.Client)).toBeUndefined()
  })

  it("a message of several megabytes across many chunks arrives whole, and its buffer is not kept", () => {
    const { client, stream } = fakeClient()
    const tap = copyDataTap(client)!
    const big = "v".repeat(5 * 1024 * 1024)
    const bytes = Buffer.concat([message("d", big), message("d", "small\n")])
    const got: Array<{ text: string; buffer: Buffer }> = []
    tap.route((buffer, start, end) => got.push({ text: buffer.toString("utf8", start, end), buffer }))
    // 64 KB chunks, then one that ends inside the small message's header (it starts at big + 5).
    const ends = [...Array.from({ length: 80 }, (_, i) => (i + 1) * 65_536), big.length + 10, bytes.length]
    let from = 0
    for (const end of ends) {
      stream.emit("data", bytes.subarray(from, end))
      from = end
    }
    expect(got.map((g) => g.text.length)).toEqual([big.length, 6])
    expect(got[0]!.text === big).toBe(true)
    // The small one, split across the last chunks, was assembled in a fresh small buffer.
    expect(got[1]!.buffer.length).toBeLessThan(1024 * 1024)
  })

  it("a handler that throws destroys the connection with its error instead of reading on out of step", () => {
    const { client, stream, pgBytes } = fakeClient()
    const tap = copyDataTap(client)!
    tap.route(() => {
      throw new Error("handler broke")
    })
    stream.emit("data", wire)
    expect(stream.destroyed?.message).toBe("handler broke")
    expect(pgBytes().equals(before)).toBe(true)
  })
})
