/**
 * The Debezium format's writers on bytes must write exactly what its text
 * writers write (the one definition of each conversion), in the fast path
 * and out of it.
 */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { debeziumColumnType } from "../../../src/event/formats/debezium/types.js"
import { JsonBytes } from "../../../src/event/record/JsonBytes.js"
import { byteWriterFor } from "../../../src/event/values/byteWriters.js"
import { Oid } from "../../../src/event/values/builtinTypes.js"
import { TypeRegistry } from "../../../src/event/values/TypeRegistry.js"

const registry = new TypeRegistry()

/** Both writers of a column type on `text`, placed mid-buffer between bytes a writer must not read. */
const expectSame = (oid: number, typeMod: number, text: string): void => {
  const type = debeziumColumnType(registry, oid, typeMod)
  const writeBytes = type.byteWriter ?? byteWriterFor(type.writer)
  const src = Buffer.concat([Buffer.from("9.\""), Buffer.from(text, "utf8"), Buffer.from("9.\"")])
  const out = new JsonBytes()
  out.begin()
  writeBytes(out, src, 3, src.length - 3)
  expect(out.finish().toString("utf8")).toBe(type.writer(text))
}

/** numeric(precision, scale)'s atttypmod. */
const numericMod = (precision: number, scale: number): number => ((precision << 16) | scale) + 4

/** The text PostgreSQL's numeric output writes for an unscaled integer at `scale`. */
const numericText = (unscaled: bigint, scale: number): string => {
  const negative = unscaled < 0n
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0")
  const text = scale === 0 ? digits : digits.slice(0, -scale) + "." + digits.slice(-scale)
  return (negative ? "-" : "") + text
}

describe("Debezium byte writers", () => {
  it("Decimal: the base64 of the minimal two's complement, at and around 15 digits and every byte boundary", () => {
    for (const scale of [0, 2, 6]) {
      const mod = numericMod(30, scale)
      for (const n of [0n, 1n, -1n, 127n, 128n, -128n, -129n, 255n, 256n, 32767n, 32768n, -32768n, -32769n, 999_999_999_999_999n, -999_999_999_999_999n]) {
        expectSame(Oid.numeric, mod, numericText(n, scale))
      }
      for (let bits = 1; bits < 100; bits++) {
        const edge = 1n << BigInt(bits)
        for (const n of [edge - 1n, edge, -edge, -edge - 1n]) expectSame(Oid.numeric, mod, numericText(n, scale))
      }
      // A text of another scale than the column's, NaN and the infinities take the text writer.
      for (const text of ["1.5", "12", "NaN", "Infinity", "-Infinity"]) expectSame(Oid.numeric, mod, text)
    }
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.integer({ min: 0, max: 8 }), (n, scale) => {
        expectSame(Oid.numeric, numericMod(30, scale), numericText(n, scale))
      }),
      { numRuns: 3000 }
    )
  })

  it("ZonedTimestamp: the fraction padded to the column's precision, other offsets, BC and infinity by the text writer", () => {
    const texts = [
      "2026-11-23 20:00:00+00",
      "2026-11-23 20:00:00.5+00",
      "2026-11-23 20:00:00.123+00",
      "2026-11-23 20:00:00.123456+00",
      "2026-11-23 20:00:00.123456+05:30",
      "2026-11-23 20:00:00-03",
      "0044-03-15 12:00:00+00 BC",
      "12026-01-01 00:00:00+00",
      "infinity",
      "-infinity"
    ]
    for (const typeMod of [-1, 0, 1, 3, 6]) {
      for (const text of texts) {
        // The server rounds the fraction to the column's precision: texts with more digits are not what it sends, but stay exact.
        expectSame(Oid.timestamptz, typeMod, text)
      }
    }
  })

  it("json and jsonb as an escaped string, text as a string", () => {
    for (const text of ["{\"a\": [1, \"x\\\"y\"]}", "{\"k\": \"日本\"}", "[\n\t1\n]", "\"\\\\\""]) {
      expectSame(Oid.jsonb, -1, text)
      expectSame(Oid.json, -1, text)
      expectSame(Oid.text, -1, text)
    }
  })
})
