/**
 * `writeRowJson` (bytes, read in place from a Tuple through the byte writers)
 * must write exactly the UTF-8 of `buildRowJson` (text, from the values), for
 * every built-in writer and every mask/TOAST rule; and JsonBytes itself must
 * keep every part it handed out intact across slab changes.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { formatLsn } from "../../../src/postgres/lsn.js"
import { createPgoutputDecoder, isPgoutputDecodeError } from "../../../src/decode/decoder.js"
import { type Insert, type TupleValue, Unchanged } from "../../../src/decode/messages.js"
import { Cell, Tuple } from "../../../src/decode/tuple.js"
import { byteWriterFor } from "../../../src/event/values/byteWriters.js"
import {
  builtinWriters,
  type JsonWriter,
  Oid,
  ValueTextError,
  writeBool,
  writeBytea,
  writeDate,
  writeFloat,
  writeJson,
  writeNumeric,
  writeString,
  writeTimestamp,
  writeTimestamptz,
  writeVerbatim
} from "../../../src/event/values/index.js"
import { JsonBytes } from "../../../src/event/record/JsonBytes.js"
import { SlabPool } from "../../../src/event/record/SlabPool.js"
import { buildRowJson, keyPrefixBytes, keyPrefixes, writeRowJson } from "../../../src/event/values/rowJson.js"
import { encodePgoutput } from "../../decode/encode.js"

const writers = builtinWriters()

/**
 * The tuple's bytes moved into a larger buffer between bytes that would show
 * up in the JSON if a writer read outside its cell (pgoutput tuples sit in
 * the middle of a slab).
 */
const embedded = (tuple: Tuple): Tuple => {
  const pad = Buffer.from("\"\\\xff{", "latin1")
  return new Tuple(Buffer.concat([pad, tuple.bytes, pad]), tuple.offset + pad.length, tuple.length)
}

/** TupleData cells: a kind byte, then for text an Int32 length and the bytes. */
const textCells = (...values: ReadonlyArray<Uint8Array>): Buffer =>
  Buffer.concat(values.flatMap((v) => {
    const header = Buffer.alloc(5)
    header[0] = Cell.text
    header.writeInt32BE(v.length, 1)
    return [header, v]
  }))

interface Row {
  readonly names: ReadonlyArray<string>
  readonly oids: ReadonlyArray<number>
  readonly values: ReadonlyArray<TupleValue>
  readonly includeMask?: ReadonlyArray<boolean> | undefined
  readonly fallback?: ReadonlyArray<TupleValue> | undefined
}

/** `writeRowJson` into a fresh JsonBytes, the part it finished, and the unchanged columns it listed. */
const writeBytes = (row: Row, tuple: Tuple, fallback: Tuple | undefined, out = new JsonBytes()) => {
  const unchanged: Array<number> = []
  out.begin()
  writeRowJson(
    out,
    keyPrefixBytes(row.names),
    row.oids.map((oid) => byteWriterFor(writers.get(oid) ?? writers.get(Oid.text)!)),
    tuple,
    row.includeMask,
    unchanged,
    fallback
  )
  return { bytes: out.finish(), unchanged }
}

const buildText = (row: Row, values: ReadonlyArray<TupleValue>, fallback: ReadonlyArray<TupleValue> | undefined) => {
  const unchanged: Array<number> = []
  const text = buildRowJson(
    keyPrefixes(row.names),
    row.oids.map((oid) => writers.get(oid) ?? writers.get(Oid.text)!),
    values,
    row.includeMask,
    unchanged,
    fallback
  )
  return { text, unchanged }
}

/** Both paths on the row, its tuple built from the values (and embedded in a larger buffer); returns the JSON text. */
const expectSameJson = (row: Row): string => {
  const expected = buildText(row, row.values, row.fallback)
  const fallback = row.fallback === undefined ? undefined : Tuple.fromValues(row.fallback)
  for (const tuple of [Tuple.fromValues(row.values), embedded(Tuple.fromValues(row.values))]) {
    for (const old of fallback === undefined ? [undefined] : [fallback, embedded(fallback)]) {
      const actual = writeBytes(row, tuple, old)
      expect(actual.bytes.toString("utf8")).toBe(expected.text)
      expect(actual.bytes.equals(Buffer.from(expected.text, "utf8"))).toBe(true)
      expect(actual.unchanged).toEqual(expected.unchanged)
    }
  }
  return expected.text
}

/** One column of type `oid` per text, then each text on its own. */
const expectSameForType = (oid: number, texts: ReadonlyArray<string>): void => {
  const names = texts.map((_, i) => `c${i}`)
  const json = expectSameJson({ names, oids: texts.map(() => oid), values: texts })
  expect(() => JSON.parse(json)).not.toThrow()
  for (const text of texts) expectSameJson({ names: ["v"], oids: [oid], values: [text] })
}

describe("writeRowJson writes the bytes of buildRowJson", () => {
  it("integers and oid (verbatim)", () => {
    expectSameForType(Oid.int2, ["0", "-32768", "32767"])
    expectSameForType(Oid.int4, ["1", "-2147483648", "2147483647"])
    expectSameForType(Oid.int8, ["0", "-9223372036854775808", "9223372036854775807"])
    expectSameForType(Oid.oid, ["0", "4294967295"])
  })

  it("text with quotes, backslashes, control characters, non-ASCII and emoji", () => {
    expectSameForType(Oid.text, [
      "",
      "plain ascii",
      "say \"hi\"",
      "back\\slash \\\\ \\n",
      "\"",
      "\\",
      "line\nfeed\ttab\rreturn\bback\fform",
      "\u0001\u001f\u007f",
      "zażółć gęślą jaźń",
      "日本語のテキスト",
      "🎉 emoji 👍🏽 👨‍👩‍👧",
      "\u2028\u2029 separators",
      "mixed \"ü\" \\ \n 🎉",
      "x".repeat(1000) + "\"",
      "é".repeat(5000)
    ])
    // Other string-typed columns take the same writer.
    expectSameForType(1043, ["varchar \"q\"", "ü"]) // varchar
    expectSameForType(1042, ["ab  ", ""]) // bpchar
    expectSameForType(2950, ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]) // uuid
    expectSameForType(1186, ["1 day 02:03:04.5", "-1 days +00:00:00.000001"]) // interval
    expectSameForType(1083, ["23:59:59.999999"]) // time
    expectSameForType(Oid.box, ["(1,1),(0,0)"])
  })

  it("numeric", () => {
    expectSameForType(Oid.numeric, ["10.50", "-0.000001", "0", "123456789012345678901234567890.123", "NaN", "Infinity", "-Infinity"])
  })

  it("float4 and float8, NaN and infinities included", () => {
    const texts = ["0", "-0", "1.5", "-2.25e-10", "1e+300", "3.4028235e+38", "NaN", "Infinity", "-Infinity"]
    expectSameForType(Oid.float4, texts)
    expectSameForType(Oid.float8, texts)
    const json = expectSameJson({
      names: ["a", "b", "c"],
      oids: [Oid.float8, Oid.float8, Oid.float8],
      values: ["NaN", "Infinity", "-Infinity"]
    })
    expect(json).toBe("{\"a\":\"NaN\",\"b\":\"Infinity\",\"c\":\"-Infinity\"}")
  })

  it("bool", () => {
    expectSameForType(Oid.bool, ["t", "f"])
  })

  it("json and jsonb, non-ASCII included", () => {
    const texts = [
      "{\"a\": [1, 2, {\"b\": null}]}",
      "  {\"spaces\"  :  [ 1 ,2 ] }  ",
      "\"ü\"",
      "{\"k\": \"日本 🎉\", \"é\": \"\\u00e9\\n\"}",
      "[]",
      "null",
      "12.5e3"
    ]
    expectSameForType(Oid.json, texts)
    expectSameForType(Oid.jsonb, texts)
  })

  it("date", () => {
    expectSameForType(Oid.date, ["2026-11-23", "0044-03-15 BC", "12026-01-01", "infinity", "-infinity"])
  })

  it("timestamp, BC included", () => {
    expectSameForType(Oid.timestamp, [
      "2026-11-23 20:00:00.123456",
      "2026-11-23 20:00:00",
      "0044-03-15 12:00:00 BC",
      "0044-03-15 12:00:00.5 BC",
      "294276-12-31 23:59:59.999999",
      "infinity",
      "-infinity"
    ])
  })

  it("timestamptz with +00, other offsets, BC and infinity", () => {
    expectSameForType(Oid.timestamptz, [
      "2026-11-23 20:00:00.123456+00",
      "2026-11-23 20:00:00+00",
      "2026-11-23 20:00:00.5+05:30",
      "2026-11-23 01:00:00-03:00:15",
      "2026-01-01 00:30:00+01",
      "2026-11-23 20:00:00-10",
      "0044-03-15 12:00:00+00 BC",
      "0044-03-15 12:00:00.25+00 BC",
      "0001-01-01 02:00:00+05 BC",
      "infinity",
      "-infinity"
    ])
    const json = expectSameJson({ names: ["at"], oids: [Oid.timestamptz], values: ["2026-11-23 20:00:00.5+05:30"] })
    expect(json).toBe("{\"at\":\"2026-11-23T14:30:00.5Z\"}")
  })

  it("bytea, hex and escape formats", () => {
    expectSameForType(Oid.bytea, ["\\x", "\\xdeadbeef", "\\x00ff", "abc\\\\\\001"])
  })

  it("arrays", () => {
    expectSameForType(1007, ["{1,2,NULL}", "{}", "{{1,2},{3,4}}", "[0:1]={1,2}"]) // int4[]
    expectSameForType(1016, ["{9223372036854775807,-1}"]) // int8[]
    expectSameForType(1009, [ // text[]
      "{\"a b\",\"c\\\"d\",NULL,\"NULL\",\"back\\\\slash\",plain,\"\"}",
      "{ü,\"🎉\",\"line\nfeed\"}"
    ])
    expectSameForType(1185, ["{\"2026-11-23 20:00:00+00\",\"0044-03-15 12:00:00+00 BC\",infinity}"]) // timestamptz[]
    expectSameForType(1115, ["{\"2026-11-23 20:00:00\",\"0044-03-15 12:00:00 BC\"}"]) // timestamp[]
    expectSameForType(1182, ["{2026-11-23,\"0044-03-15 BC\"}"]) // date[]
    expectSameForType(1231, ["{10.50,NaN}"]) // numeric[]
    expectSameForType(1022, ["{1.5,NaN,-Infinity}"]) // float8[]
    expectSameForType(1000, ["{t,f,NULL}"]) // bool[]
    expectSameForType(3807, ["{\"{\\\"a\\\": 1}\",\"[1, 2]\",NULL}"]) // jsonb[]
    expectSameForType(1001, ["{\"\\\\x00ff\",\"\\\\x\"}"]) // bytea[]
    expectSameForType(1020, ["{(1,1),(0,0);(3,3),(2,2)}"]) // box[]
  })

  it("an unknown type OID falls back to a string", () => {
    expectSameJson({ names: ["mood"], oids: [90_000], values: ["happy \"ü\""] })
  })

  it("every built-in type OID, on a row of all of them", () => {
    // A valid text for each scalar writer; every other built-in is an array.
    const samples = new Map<JsonWriter, ReadonlyArray<string>>([
      [writeVerbatim, ["12", "-7"]],
      [writeString, ["s \"q\" ü\n", ""]],
      [writeFloat, ["1.5", "NaN"]],
      [writeNumeric, ["10.50", "-Infinity"]],
      [writeBool, ["t", "f"]],
      [writeJson, ["{\"a\": \"ü\"}", "[]"]],
      [writeBytea, ["\\x00ff", "\\x"]],
      [writeDate, ["2026-11-23", "0044-03-15 BC"]],
      [writeTimestamp, ["2026-11-23 20:00:00.5", "0044-03-15 12:00:00 BC"]],
      [writeTimestamptz, ["2026-11-23 20:00:00.5+00", "2026-11-23 20:00:00+05:30"]]
    ])
    const oids = [...writers.keys()]
    expect(oids.length).toBeGreaterThan(100)
    for (const k of [0, 1]) {
      const values = oids.map((oid) => samples.get(writers.get(oid)!)?.[k] ?? ["{}", "{NULL}"][k]!)
      expectSameJson({ names: oids.map(String), oids, values })
    }
  })

  it("SQL NULL and binary cells", () => {
    expectSameJson({
      names: ["id", "name", "raw", "empty"],
      oids: [Oid.int8, Oid.text, Oid.text, Oid.text],
      values: [null, "x", new Uint8Array([0, 1, 2, 255]), new Uint8Array(0)]
    })
    expectSameJson({ names: ["a", "b"], oids: [Oid.int8, Oid.jsonb], values: [null, null] })
  })

  it("column names needing escapes, and no columns", () => {
    expectSameJson({
      names: ["name \"quoted\"", "b\\c", "é\u2028", "日本", "\n"],
      oids: Array(5).fill(Oid.int4),
      values: ["1", "2", "3", "4", "5"]
    })
    expect(expectSameJson({ names: [], oids: [], values: [] })).toBe("{}")
  })

  it("include masks", () => {
    const names = ["id", "total", "name", "meta", "at", "paid"]
    const oids = [Oid.int8, Oid.numeric, Oid.text, Oid.jsonb, Oid.timestamptz, Oid.bool]
    const values = ["1", "2", "x", "null", "infinity", "t"]
    expect(expectSameJson({ names, oids, values, includeMask: [false, true, false, true, false, true] }))
      .toBe("{\"total\":\"2\",\"meta\":null,\"paid\":true}")
    expect(expectSameJson({ names, oids, values, includeMask: [true, false, false, false, false, false] })).toBe("{\"id\":1}")
    expect(expectSameJson({ names, oids, values, includeMask: Array(6).fill(false) })).toBe("{}")
    expectSameJson({ names, oids, values, includeMask: Array(6).fill(true) })
    // A mask shorter than the row leaves the rest in, as buildRowJson does.
    expectSameJson({ names, oids, values, includeMask: [false] })
  })

  it("unchanged TOAST values without an old row are left out and listed", () => {
    const names = ["id", "total", "name", "meta", "at", "paid"]
    const oids = [Oid.int8, Oid.numeric, Oid.text, Oid.jsonb, Oid.timestamptz, Oid.bool]
    const values: Array<TupleValue> = ["1", "2", Unchanged, Unchanged, null, "t"]
    expect(expectSameJson({ names, oids, values })).toBe("{\"id\":1,\"total\":\"2\",\"at\":null,\"paid\":true}")
    const listed = writeBytes({ names, oids, values }, Tuple.fromValues(values), undefined).unchanged
    expect(listed).toEqual([2, 3])
    // A masked-out unchanged column is neither written nor listed.
    expectSameJson({ names, oids, values, includeMask: [true, true, false, true, true, true] })
    // All unchanged, the first column included.
    expect(expectSameJson({ names, oids, values: Array(6).fill(Unchanged) })).toBe("{}")
  })

  it("unchanged TOAST values are filled from the old row when it has them", () => {
    const names = ["id", "total", "name", "meta", "at", "paid"]
    const oids = [Oid.int8, Oid.numeric, Oid.text, Oid.jsonb, Oid.timestamptz, Oid.bool]
    const values: Array<TupleValue> = [Unchanged, "2", Unchanged, Unchanged, Unchanged, "t"]
    const fallback: Array<TupleValue> = ["1", "1", "old \"text\" ü", Unchanged, null, "f"]
    expect(expectSameJson({ names, oids, values, fallback }))
      .toBe("{\"id\":1,\"total\":\"2\",\"name\":\"old \\\"text\\\" ü\",\"at\":null,\"paid\":true}")
    const listed = writeBytes({ names, oids, values }, Tuple.fromValues(values), Tuple.fromValues(fallback)).unchanged
    expect(listed).toEqual([3])
    // Binary old values, masks, and an old row shorter than the new one.
    expectSameJson({ names, oids, values, fallback: [new Uint8Array([7, 8]), "1", new Uint8Array(0), "{}", "2026-11-23 20:00:00+00"] })
    expectSameJson({ names, oids, values, fallback, includeMask: [false, true, true, false, true, true] })
    expectSameJson({ names, oids, values, fallback: ["1"] })
    expectSameJson({ names, oids, values, fallback: [] })
  })

  it("a tuple from the decoder, in the decoder's slab", () => {
    const names = ["id", "name", "meta", "at", "raw", "gone", "nothing"]
    const oids = [Oid.int8, Oid.text, Oid.jsonb, Oid.timestamptz, Oid.bytea, Oid.text, Oid.text]
    const values: Array<TupleValue> = ["42", "Łukasz \"🎉\"", "{\"ü\": [1]}", "2026-11-23 20:00:00.5+00", "\\xff00", Unchanged, null]
    const decoder = createPgoutputDecoder(1)
    const decoded: Array<Tuple> = []
    for (let i = 0; i < 3; i++) {
      const bytes = encodePgoutput({ tag: "Insert", xid: undefined, relationId: 1, newTuple: values })
      const message = decoder.decode(bytes, 0, bytes.length, 0)
      if (isPgoutputDecodeError(message)) throw message
      bytes.fill(0xee) // pg reuses its buffer
      decoded.push((message as Insert).newTuple)
    }
    const expected = buildText({ names, oids, values }, values, undefined)
    for (const tuple of decoded) {
      const actual = writeBytes({ names, oids, values }, tuple, undefined)
      expect(actual.bytes.toString("utf8")).toBe(expected.text)
      expect(actual.unchanged).toEqual([5])
    }
  })

  it("text that is not valid UTF-8 is decoded with replacement characters, as the string path does", () => {
    const bytes = Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x22])
    const tuple = new Tuple(textCells(bytes, bytes), 0, 2)
    const row: Row = { names: ["t", "j"], oids: [Oid.text, Oid.json], values: tuple.values() }
    const expected = buildText(row, tuple.values(), undefined)
    expect(writeBytes(row, tuple, undefined).bytes.toString("utf8")).toBe(expected.text)
    expect(expected.text).toContain("\uFFFD")
  })

  it("throws the same ValueTextError for text a writer rejects", () => {
    const cases: ReadonlyArray<readonly [number, string]> = [
      [Oid.bool, "true"],
      [Oid.bool, ""],
      [Oid.bytea, "\\x0"],
      [Oid.bytea, "\\xzz"],
      [1007, "{1,2"],
      [Oid.timestamptz, "2026-11-23 20:00:00"]
    ]
    const thrown = (f: () => unknown): unknown => {
      try {
        f()
      } catch (e) {
        return e
      }
      return undefined
    }
    for (const [oid, text] of cases) {
      const row: Row = { names: ["v"], oids: [oid], values: [text] }
      const textError = thrown(() => buildText(row, row.values, undefined))
      const bytesError = thrown(() => writeBytes(row, Tuple.fromValues(row.values), undefined))
      expect(textError, text).toBeInstanceOf(ValueTextError)
      expect(bytesError, text).toBeInstanceOf(ValueTextError)
      expect((bytesError as ValueTextError).message).toBe((textError as ValueTextError).message)
    }
  })
})

describe("writeRowJson: properties", () => {
  const special = fc.constantFrom("a", " ", "\"", "\\", "\n", "\u0000", "\u0001", "\u001f", "\u007f", "é", "日", "🎉", "\u2028", "/")
  const text = fc.oneof(
    fc.string({ unit: "binary", maxLength: 60 }),
    fc.string({ unit: special, maxLength: 60 }),
    fc.string({ unit: "grapheme-ascii", maxLength: 60 })
  )

  it("any string in a text column", () => {
    fc.assert(
      fc.property(fc.array(text, { maxLength: 8 }), (texts) => {
        expectSameJson({ names: texts.map((_, i) => `c${i}`), oids: texts.map(() => Oid.text), values: texts })
      }),
      { numRuns: 1000 }
    )
  })

  it("any bytes in a text or json column", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.constantFrom(Oid.text, 1043, Oid.json, Oid.jsonb), (bytes, oid) => {
        const tuple = new Tuple(textCells(bytes), 0, 1)
        const row: Row = { names: ["v"], oids: [oid], values: tuple.values() }
        const expected = buildText(row, tuple.values(), undefined)
        expect(writeBytes(row, tuple, undefined).bytes.equals(Buffer.from(expected.text, "utf8"))).toBe(true)
      }),
      { numRuns: 1000 }
    )
  })

  it("any mix of cells, masks and old rows", () => {
    const cell: fc.Arbitrary<TupleValue> = fc.oneof(
      text,
      fc.constant(null),
      fc.constant(Unchanged),
      fc.uint8Array({ maxLength: 10 })
    )
    fc.assert(
      fc.property(
        fc.array(cell, { maxLength: 8 }),
        fc.option(fc.array(cell, { maxLength: 8 }), { nil: undefined }),
        fc.option(fc.array(fc.boolean(), { maxLength: 8 }), { nil: undefined }),
        (values, fallback, includeMask) => {
          expectSameJson({ names: values.map((_, i) => `c${i}`), oids: values.map(() => Oid.text), values, includeMask, fallback })
        }
      ),
      { numRuns: 1000 }
    )
  })
})

describe("JsonBytes", () => {
  const part = (write: (out: JsonBytes) => void): string => {
    const out = new JsonBytes()
    out.begin()
    write(out)
    return out.finish().toString("latin1")
  }

  it("lsn, as PostgreSQL prints it", () => {
    expect(part((out) => out.lsn(0))).toBe("0/0")
    expect(part((out) => out.lsn(0x16_b374d848))).toBe("16/B374D848")
    expect(part((out) => out.lsn(0xffff_ffff))).toBe("0/FFFFFFFF")
    expect(part((out) => out.lsn(2 ** 32))).toBe("1/0")
    expect(part((out) => out.lsn(Number.MAX_SAFE_INTEGER))).toBe("1FFFFF/FFFFFFFF")
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => part((out) => out.lsn(n)) === formatLsn(n)))
  })

  it("digits, for non-negative integers below 2^53", () => {
    expect(part((out) => out.digits(0))).toBe("0")
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => part((out) => out.digits(n)) === String(n)))
  })

  it("quotedAscii escapes as JSON.stringify does, across slab changes, and leaves non-ASCII to the caller, writing nothing", () => {
    const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 200 })
    fc.assert(
      fc.property(ascii, fc.integer({ min: 0, max: 300 }), (text, fill) => {
        // A small pool's slabs, filled to just short of their end, make escapes move the part mid-value.
        const out = new JsonBytes(new SlabPool(256, 2))
        out.begin()
        for (let i = 0; i < fill % 250; i++) out.byte(0x2e)
        const written = out.quotedAscii(Buffer.from(text, "latin1"), 0, text.length)
        expect(written).toBe(true)
        expect(out.finish().toString("latin1")).toBe(".".repeat(fill % 250) + JSON.stringify(text))
      }),
      { numRuns: 2000 }
    )
    const out = new JsonBytes(new SlabPool(64, 2))
    out.begin()
    out.bytes(Buffer.from("x".repeat(40)))
    // The escapes move the part to a new slab before the non-ASCII byte is met: what came before it stays, nothing of the value does.
    const value = Buffer.from("\n".repeat(17) + "é", "utf8")
    expect(out.quotedAscii(value, 0, value.length)).toBe(false)
    out.byte(0x21)
    expect(out.finish().toString("utf8")).toBe("x".repeat(40) + "!")
  })

  it("asciiRange copies ASCII and leaves non-ASCII to the caller, writing nothing", () => {
    const out = new JsonBytes()
    out.begin()
    expect(out.asciiRange(Buffer.from("x{\"a\":1}y"), 1, 8)).toBe(true)
    expect(out.asciiRange(Buffer.from("{\"é\":1}"), 0, 9)).toBe(false)
    out.byte(0x21)
    expect(out.finish().toString("utf8")).toBe("{\"a\":1}!")
  })

  it("utf8 of long texts, measured rather than reserved at 3 bytes a unit", () => {
    const long = "é".repeat(5000) + "a".repeat(70_000) + "🎉"
    const out = new JsonBytes()
    out.begin()
    out.utf8(long)
    expect(out.finish().toString("utf8")).toBe(long)
    out.begin()
    out.utf8("after")
    expect(out.finish().toString("utf8")).toBe("after")
  })

  it("byte, bytes, range and utf8", () => {
    expect(part((out) => {
      out.byte(0x7b)
      out.bytes(Buffer.from("\"k\":"))
      out.range(Buffer.from("xx12345xx"), 2, 7)
      out.range(Buffer.from("y".repeat(100)), 10, 60) // the copy by Buffer.set
      out.utf8("ü🎉")
      out.byte(0x7d)
    })).toBe(Buffer.from("{\"k\":12345" + "y".repeat(50) + "ü🎉}").toString("latin1"))
  })

  it("every part it handed out keeps its bytes when writing moves to new slabs", () => {
    const out = new JsonBytes()
    const parts: Array<{ buffer: Buffer; expected: string }> = []
    const write = (text: string, n: number) => {
      out.begin()
      out.byte(0x5b)
      out.utf8(String(n))
      out.byte(0x2c)
      out.lsn(n * 7919)
      out.utf8(text)
      out.range(Buffer.from(`<${text}>`), 1, Buffer.byteLength(text) + 1)
      out.byte(0x5d)
      parts.push({ buffer: out.finish(), expected: `[${n},${formatLsn(n * 7919)}${text}${text}]` })
    }
    let total = 0
    for (let n = 0; total < 300 * 1024; n++) {
      const text = n % 3 === 0 ? "ascii-" + "x".repeat(n % 200) : n % 3 === 1 ? "ü日🎉".repeat(n % 50) : "\"q\"".repeat(n % 90)
      write(text, n)
      total += parts.at(-1)!.buffer.length
      // Parts larger than a slab, once in a while.
      if (n === 100 || n === 777) write("L".repeat(70 * 1024) + "é".repeat(40 * 1024), n)
    }
    // A part interrupted by an error is dropped by the next begin().
    out.begin()
    out.utf8("never finished ".repeat(10_000))
    write("after the interrupted one", 1)
    // And an empty part.
    out.begin()
    parts.push({ buffer: out.finish(), expected: "" })

    expect(total).toBeGreaterThan(300 * 1024)
    expect(parts.some((p) => p.buffer.length > 64 * 1024)).toBe(true)
    // The parts span several slabs (a part too big for one gets a larger slab).
    expect(new Set(parts.map((p) => p.buffer.buffer)).size).toBeGreaterThanOrEqual(3)
    for (const { buffer, expected } of parts) expect(buffer.toString("utf8")).toBe(expected)
  })
})
