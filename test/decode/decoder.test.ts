import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { createPgoutputDecoder, isPgoutputDecodeError, PgoutputDecodeError } from "../../src/decode/decoder.js"
import type { PgoutputDecoder } from "../../src/decode/decoder.js"
import type { Insert, LogicalMessage, PgoutputMessage, TupleValue } from "../../src/decode/messages.js"
import { Unchanged } from "../../src/decode/messages.js"
import { ByteWriter, encodePgoutput } from "./encode.js"
import { fixtures } from "./fixtures.js"
import { type PlainMessage, toPlain } from "./plain.js"

const WAL = 0x16_b374d848

const decoderAt = (version: number, inStream: boolean): PgoutputDecoder => {
  const decoder = createPgoutputDecoder(version)
  if (inStream) {
    const start = encodePgoutput({ tag: "StreamStart", xid: 1, firstSegment: true })
    const result = decoder.decode(start, 0, start.length, WAL)
    if (isPgoutputDecodeError(result)) throw result
  }
  return decoder
}

const decodeAll = (decoder: PgoutputDecoder, bytes: Buffer): PgoutputMessage | PgoutputDecodeError =>
  decoder.decode(bytes, 0, bytes.length, WAL)

const expectError = (result: PgoutputMessage | PgoutputDecodeError): PgoutputDecodeError => {
  if (!isPgoutputDecodeError(result)) throw new Error(`expected a PgoutputDecodeError, got ${JSON.stringify(result)}`)
  return result
}

const expectMessage = (result: PgoutputMessage | PgoutputDecodeError): PgoutputMessage => {
  if (isPgoutputDecodeError(result)) throw new Error(`expected a message, got ${result.message}`)
  return result
}

/** The decoded message with its tuples as arrays of values (decoded tuples share a slab). */
const decodePlain = (decoder: PgoutputDecoder, bytes: Buffer): PlainMessage => toPlain(expectMessage(decodeAll(decoder, bytes)))

/** Binary values come back as Buffers; compare bytes, not classes. */
const plain = (m: unknown): unknown =>
  JSON.parse(JSON.stringify(m, (_k, v: unknown) => {
    if (v === Unchanged) return "<unchanged>"
    if (v === undefined) return "<undefined>"
    if (v instanceof Uint8Array) return { bytes: Array.from(v) }
    if (typeof v === "object" && v !== null && (v as { type?: unknown }).type === "Buffer") {
      return { bytes: (v as { data: Array<number> }).data }
    }
    return v
  }))

describe("pgoutput decoder: every message type round-trips", () => {
  for (const fixture of fixtures) {
    it(`${fixture.name} (protocol ${fixture.version}${fixture.inStream ? ", stream block" : ""})`, () => {
      const bytes = encodePgoutput(fixture.message)
      const decoded = decodePlain(decoderAt(fixture.version, fixture.inStream), bytes)
      expect(plain(decoded)).toEqual(plain(fixture.message))
    })
  }

  it("decodes a message in the middle of a larger buffer (XLogData payload) without reading past end", () => {
    const fixture = fixtures.find((f) => f.name === "Insert 6 text columns")!
    const bytes = encodePgoutput(fixture.message)
    const framed = Buffer.concat([Buffer.alloc(25, 0xaa), bytes, Buffer.from("garbage after end")])
    const decoded = expectMessage(createPgoutputDecoder(1).decode(framed, 25, 25 + bytes.length, WAL))
    expect(plain(toPlain(decoded))).toEqual(plain(fixture.message))
  })

  it("decodes the exact bytes of a hand-written Insert", () => {
    // 'I', relation 16385, 'N', 3 columns: 't' "42", 'n', 'u'
    const bytes = Buffer.from("49" + "00004001" + "4e" + "0003" + "74" + "00000002" + "3432" + "6e" + "75", "hex")
    const decoded = decodePlain(createPgoutputDecoder(1), bytes)
    expect(decoded).toEqual({ tag: "Insert", xid: undefined, relationId: 16385, newTuple: ["42", null, Unchanged] })
  })

  it("keeps the stream-block xid only between Stream Start and Stream Stop", () => {
    const decoder = createPgoutputDecoder(2)
    const insertWithXid: PlainMessage = { tag: "Insert", xid: 77, relationId: 5, newTuple: ["a"] }
    const insertPlain: PlainMessage = { tag: "Insert", xid: undefined, relationId: 5, newTuple: ["a"] }
    expect(decoder.inStreamBlock).toBe(false)
    expect(decodePlain(decoder, encodePgoutput(insertPlain))).toEqual(insertPlain)
    expectMessage(decodeAll(decoder, encodePgoutput({ tag: "StreamStart", xid: 77, firstSegment: true })))
    expect(decoder.inStreamBlock).toBe(true)
    expect(decodePlain(decoder, encodePgoutput(insertWithXid))).toEqual(insertWithXid)
    // Without the xid the same bytes would be misread: here they are 4 bytes short.
    expectError(decodeAll(decoder, encodePgoutput(insertPlain)))
    expectMessage(decodeAll(decoder, encodePgoutput({ tag: "StreamStop" })))
    expect(decoder.inStreamBlock).toBe(false)
    expect(decodePlain(decoder, encodePgoutput(insertPlain))).toEqual(insertPlain)
    decoder.decode(encodePgoutput({ tag: "StreamStart", xid: 78, firstSegment: false }), 0, 6, WAL)
    expect(decoder.inStreamBlock).toBe(true)
    decoder.reset()
    expect(decoder.inStreamBlock).toBe(false)
  })

  it("regular transactions between stream blocks carry no xid", () => {
    const decoder = createPgoutputDecoder(4)
    const sequence: Array<PlainMessage> = [
      { tag: "StreamStart", xid: 900, firstSegment: true },
      { tag: "Insert", xid: 900, relationId: 5, newTuple: ["big"] },
      { tag: "StreamStop" },
      { tag: "Begin", finalLsn: WAL, commitTime: 1, xid: 901 },
      { tag: "Insert", xid: undefined, relationId: 5, newTuple: ["small"] },
      { tag: "Commit", flags: 0, commitLsn: WAL, endLsn: WAL + 1, commitTime: 1 },
      { tag: "StreamStart", xid: 900, firstSegment: false },
      { tag: "Delete", xid: 900, relationId: 5, oldKind: "key", oldTuple: ["big"] },
      { tag: "StreamStop" },
      { tag: "StreamCommit", xid: 900, flags: 0, commitLsn: WAL + 2, endLsn: WAL + 3, commitTime: 2 }
    ]
    for (const m of sequence) expect(decodePlain(decoder, encodePgoutput(m))).toEqual(m)
  })

  it("copies binary values and logical-message content out of the reused input buffer", () => {
    const insert: PlainMessage = { tag: "Insert", xid: undefined, relationId: 1, newTuple: [Buffer.from([1, 2, 3])] }
    const message: PgoutputMessage = {
      tag: "Message", xid: undefined, transactional: false, lsn: 1, prefix: "p", content: Buffer.from([4, 5, 6])
    }
    const decoder = createPgoutputDecoder(1)
    const insertBytes = encodePgoutput(insert)
    const messageBytes = encodePgoutput(message)
    const decodedInsert = expectMessage(decodeAll(decoder, insertBytes)) as Insert
    const decodedMessage = expectMessage(decodeAll(decoder, messageBytes)) as LogicalMessage
    insertBytes.fill(0xee)
    messageBytes.fill(0xee)
    expect(Array.from(decodedInsert.newTuple.value(0) as Uint8Array)).toEqual([1, 2, 3])
    expect(Array.from(decodedMessage.content)).toEqual([4, 5, 6])
    expect(Buffer.isBuffer(decodedInsert.newTuple.value(0))).toBe(true)
  })

  it("rejects an unsupported protocol version at creation", () => {
    expect(() => createPgoutputDecoder(0)).toThrow(RangeError)
    expect(() => createPgoutputDecoder(5)).toThrow(RangeError)
  })
})

describe("pgoutput decoder: malformed input becomes PgoutputDecodeError", () => {
  for (const fixture of fixtures) {
    it(`${fixture.name}: every truncation is an error, never a throw`, () => {
      const bytes = encodePgoutput(fixture.message)
      const decoder = decoderAt(fixture.version, fixture.inStream)
      for (let length = 0; length < bytes.length; length++) {
        // A protocol-4 Stream Abort without the parallel fields is itself valid.
        if (fixture.name === "Stream Abort v4 parallel" && length === 9) continue
        const prefix = Buffer.from(bytes.subarray(0, length))
        const error = expectError(decoder.decode(prefix, 0, prefix.length, WAL))
        expect(error.lsn).toBe("16/B374D848")
        expect(error.offset).toBeGreaterThanOrEqual(0)
        expect(error.offset).toBeLessThanOrEqual(length)
        expect(error.bytesHex).toBe(prefix.toString("hex"))
        if (length > 0) expect(error.tag).toBe(String.fromCharCode(bytes[0]!))
      }
      // Failed decodes did not change the stream-block state.
      expect(decoder.inStreamBlock).toBe(fixture.inStream)
    })

    it(`${fixture.name}: a trailing byte is an error`, () => {
      const bytes = Buffer.concat([encodePgoutput(fixture.message), Buffer.from([0])])
      const error = expectError(decodeAll(decoderAt(fixture.version, fixture.inStream), bytes))
      expect(error.reason).toMatch(/trailing|exceeds|follow/)
    })
  }

  const v1 = () => createPgoutputDecoder(1)

  it("unknown tag", () => {
    const error = expectError(decodeAll(v1(), Buffer.from("Z0000", "latin1")))
    expect(error.tag).toBeUndefined()
    expect(error.offset).toBe(0)
    expect(error.reason).toContain("unknown message tag 0x5a")
  })

  it("empty message", () => {
    const error = expectError(decodeAll(v1(), Buffer.alloc(0)))
    expect(error.reason).toBe("empty message")
  })

  it("range outside the buffer", () => {
    const error = expectError(v1().decode(Buffer.alloc(4), 2, 10, WAL))
    expect(error.reason).toContain("outside")
  })

  it("unknown tuple value kind", () => {
    const bytes = new ByteWriter().char("I").u32(1).char("N").u16(2).char("n").char("x").buffer()
    const error = expectError(decodeAll(v1(), bytes))
    expect(error.tag).toBe("I")
    expect(error.offset).toBe(9)
    expect(error.reason).toContain("unknown tuple value kind 0x78 in column 1")
  })

  it("negative and oversized value lengths", () => {
    const negative = new ByteWriter().char("I").u32(1).char("N").u16(1).char("t").i32(-1).buffer()
    expect(expectError(decodeAll(v1(), negative)).reason).toContain("negative text value length -1")
    const oversized = new ByteWriter().char("I").u32(1).char("N").u16(1).char("b").i32(5).bytes(Buffer.from("abc")).buffer()
    expect(expectError(decodeAll(v1(), oversized)).reason).toContain("binary value length 5 exceeds the 3 byte(s) left")
    const message = new ByteWriter().char("M").u8(0).i64(0).cstr("p").i32(0x7fffffff).buffer()
    expect(expectError(decodeAll(v1(), message)).reason).toContain("message content length")
  })

  it("absurd column counts are rejected before allocating", () => {
    const tuple = new ByteWriter().char("I").u32(1).char("N").u16(65535).char("n").buffer()
    expect(expectError(decodeAll(v1(), tuple)).reason).toContain("65535 columns")
    const relation = new ByteWriter().char("R").u32(1).cstr("s").cstr("t").char("d").u16(1000).buffer()
    expect(expectError(decodeAll(v1(), relation)).reason).toContain("1000 columns")
    const truncate = new ByteWriter().char("T").i32(0x7fffffff).u8(0).u32(1).buffer()
    expect(expectError(decodeAll(v1(), truncate)).reason).toContain("relation(s)")
    const negativeTruncate = new ByteWriter().char("T").i32(-1).u8(0).buffer()
    expect(expectError(decodeAll(v1(), negativeTruncate)).reason).toContain("-1 relation(s)")
  })

  it("string not NUL-terminated", () => {
    const bytes = new ByteWriter().char("O").i64(1).bytes(Buffer.from("origin")).buffer()
    const error = expectError(decodeAll(v1(), bytes))
    expect(error.reason).toBe("string not NUL-terminated")
    expect(error.offset).toBe(9)
  })

  it("unknown replica identity", () => {
    const bytes = new ByteWriter().char("R").u32(1).cstr("s").cstr("t").char("x").u16(0).buffer()
    expect(expectError(decodeAll(v1(), bytes)).reason).toContain("unknown replica identity 0x78")
  })

  it("wrong tuple markers in Insert, Update and Delete", () => {
    const insert = new ByteWriter().char("I").u32(1).char("K").u16(0).buffer()
    expect(expectError(decodeAll(v1(), insert)).reason).toContain("new tuple marker")
    const update = new ByteWriter().char("U").u32(1).char("X").u16(0).buffer()
    expect(expectError(decodeAll(v1(), update)).reason).toContain("'K', 'O' or 'N' in Update")
    const updateMissingNew = new ByteWriter().char("U").u32(1).char("K").u16(0).char("K").u16(0).buffer()
    expect(expectError(decodeAll(v1(), updateMissingNew)).reason).toContain("new tuple marker")
    const del = new ByteWriter().char("D").u32(1).char("N").u16(0).buffer()
    expect(expectError(decodeAll(v1(), del)).reason).toContain("'K' or 'O' in Delete")
  })

  it("an LSN at or above 2^53 is an error, not a rounded number", () => {
    const bytes = new ByteWriter().char("B").i64(2n ** 53n).i64(0).u32(1).buffer()
    const error = expectError(decodeAll(v1(), bytes))
    expect(error.reason).toContain("2^53")
    expect(error.offset).toBe(1)
    const ok = new ByteWriter().char("B").i64(2 ** 53 - 1).i64(0).u32(1).buffer()
    expect(expectMessage(decodeAll(v1(), ok))).toMatchObject({ finalLsn: Number.MAX_SAFE_INTEGER })
  })

  it("a timestamp outside ±2^53 microseconds is an error", () => {
    const bytes = new ByteWriter().char("B").i64(1).i64(-(2n ** 62n)).u32(1).buffer()
    expect(expectError(decodeAll(v1(), bytes)).reason).toContain("timestamp")
  })

  it("stream and two-phase messages need the protocol version that introduced them", () => {
    const start = encodePgoutput({ tag: "StreamStart", xid: 1, firstSegment: true })
    const decoder = v1()
    expect(expectError(decodeAll(decoder, start)).reason).toContain("needs protocol version 2")
    expect(decoder.inStreamBlock).toBe(false)
    const prepare = encodePgoutput({ tag: "Prepare", flags: 0, prepareLsn: 1, endLsn: 2, prepareTime: 3, xid: 4, gid: "g" })
    expect(expectError(decodeAll(createPgoutputDecoder(2), prepare)).reason).toContain("needs protocol version 3")
    const parallelAbort = encodePgoutput({ tag: "StreamAbort", xid: 1, subXid: 2, abortLsn: 3, abortTime: 4 })
    expect(expectError(decodeAll(createPgoutputDecoder(3), parallelAbort)).reason).toContain("trailing")
  })

  it("Stream Start inside a block and Stream Stop outside one", () => {
    const decoder = createPgoutputDecoder(2)
    expect(expectError(decodeAll(decoder, encodePgoutput({ tag: "StreamStop" }))).reason).toContain("outside")
    const start = encodePgoutput({ tag: "StreamStart", xid: 1, firstSegment: true })
    expectMessage(decodeAll(decoder, start))
    expect(expectError(decodeAll(decoder, start)).reason).toContain("inside")
    expect(decoder.inStreamBlock).toBe(true)
  })

  it("caps the hex dump at 256 bytes and formats the WAL position", () => {
    const bytes = Buffer.concat([Buffer.from("Z"), Buffer.alloc(1000, 0xab)])
    const error = expectError(createPgoutputDecoder(1).decode(bytes, 0, bytes.length, 0))
    expect(error.bytesHex.length).toBe(512)
    expect(error.lsn).toBe("0/0")
    expect(error._tag).toBe("PgoutputDecodeError")
    expect(error).toBeInstanceOf(PgoutputDecodeError)
    expect(error.message).toContain("at 0/0")
  })
})

describe("pgoutput decoder: properties", () => {
  const TAGS = "BCORYIUDTMSEcAbPKrpZ\x00"

  it("random bytes after any tag never throw: a message or a PgoutputDecodeError", () => {
    let decodedMessages = 0
    let decodedErrors = 0
    fc.assert(
      fc.property(
        fc.constantFrom(...TAGS.split("")),
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(1, 2, 3, 4),
        fc.boolean(),
        (tag, body, version, inStream) => {
          const decoder = decoderAt(version, inStream && version >= 2)
          const bytes = Buffer.concat([Buffer.from(tag, "latin1"), body])
          const result = decoder.decode(bytes, 0, bytes.length, WAL)
          if (isPgoutputDecodeError(result)) decodedErrors++
          else decodedMessages++
          return isPgoutputDecodeError(result) || typeof result.tag === "string"
        }
      ),
      { numRuns: 10_000 }
    )
    // Both outcomes occur, so the property exercised real decoding, not only early rejects.
    expect(decodedMessages).toBeGreaterThan(0)
    expect(decodedErrors).toBeGreaterThan(0)
  }, 60_000)

  it("random tuples round-trip", () => {
    const value: fc.Arbitrary<TupleValue> = fc.oneof(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.constant(null),
      fc.constant(Unchanged),
      fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))
    )
    fc.assert(
      fc.property(fc.array(value, { maxLength: 20 }), fc.option(fc.array(value, { maxLength: 20 }), { nil: undefined }), (after, before) => {
        const message: PlainMessage = {
          tag: "Update", xid: undefined, relationId: 42,
          oldKind: before === undefined ? undefined : "full", oldTuple: before, newTuple: after
        }
        const bytes = encodePgoutput(message)
        const decoded = decodePlain(createPgoutputDecoder(1), bytes)
        expect(plain(decoded)).toEqual(plain(message))
      }),
      { numRuns: 500 }
    )
  }, 60_000)
})
