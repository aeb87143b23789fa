import { describe, expect, it } from "vitest"
import { Cell } from "../../src/decode/tuple.js"
import { CopyRowDecoder, CopyRowError, RowStore } from "../../src/snapshot/copyRows.js"

const row = (text: string) => Buffer.from(text, "utf8")

describe("CopyRowDecoder (COPY text rows as TupleData)", () => {
  it("reads plain fields, NULLs and empty strings as the replication stream's cells", () => {
    const decoder = new CopyRowDecoder(4)
    const tuple = decoder.decode(row("42\t\\N\t\tnaïve ✓\n"))
    expect(tuple.values()).toEqual(["42", null, "", "naïve ✓"])
    expect(tuple.kind(1)).toBe(Cell.null)
    expect(tuple.kind(2)).toBe(Cell.text)
  })

  it("undoes COPY's escapes: backslash, tab, newline, carriage return and the rest", () => {
    const decoder = new CopyRowDecoder(3)
    const tuple = decoder.decode(row("a\\\\b\tline1\\nline2\\r\\tx\t\\b\\f\\v\\N\\x\n"))
    // `\N` inside a longer value is the letter N; a backslash before any other byte is that byte.
    expect(tuple.values()).toEqual(["a\\b", "line1\nline2\r\tx", "\b\f\vNx"])
  })

  it("a value that is the text \\N is escaped by COPY and stays text", () => {
    const tuple = new CopyRowDecoder(2).decode(row("\\\\N\t\\N\n"))
    expect(tuple.values()).toEqual(["\\N", null])
  })

  it("refuses rows with too few or too many columns, or no newline", () => {
    const decoder = new CopyRowDecoder(3)
    expect(() => decoder.decode(row("1\t2\n"))).toThrow(CopyRowError)
    expect(() => decoder.decode(row("1\t2\t3\t4\n"))).toThrow(/more than 3 columns/)
    expect(() => decoder.decode(row("1\t2\t3"))).toThrow(/newline/)
    expect(() => decoder.decode(row("1\t2\t3\\\n"))).toThrow(/inside an escape/)
  })

  it("grows its buffer for a row larger than it", () => {
    const big = "x".repeat(100_000)
    expect(new CopyRowDecoder(2).decode(row(`${big}\t\\N\n`)).values()).toEqual([big, null])
  })

  it("RowStore keeps decoded rows past the next decode", () => {
    const decoder = new CopyRowDecoder(2)
    const store = new RowStore()
    const texts = Array.from({ length: 3000 }, (_, i) => [String(i), "v".repeat(i % 50)])
    for (const [a, b] of texts) store.add(decoder.decode(row(`${a}\t${b}\n`)))
    expect(store.tuples(2).map((t) => t.values())).toEqual(texts)
  })
})
