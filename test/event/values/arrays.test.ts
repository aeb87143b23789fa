import { describe, expect, it } from "vitest"
import { arrayWriter, builtinWriters, ValueTextError, writeString } from "../../../src/event/values/index.js"

const writers = builtinWriters()
const convert = (oid: number, text: string): unknown => JSON.parse(writers.get(oid)!(text))

describe("array text form", () => {
  it("converts int arrays to numbers, NULLs to null", () => {
    expect(convert(1007, "{1,2,NULL}")).toEqual([1, 2, null])
    expect(convert(1016, "{9223372036854775807,-1}")).toEqual([9223372036854775807, -1])
    expect(writers.get(1016)!("{9223372036854775807}")).toBe("[9223372036854775807]")
  })
  it("handles empty and nested arrays", () => {
    expect(convert(1007, "{}")).toEqual([])
    expect(convert(1007, "{{1,2},{3,4}}")).toEqual([[1, 2], [3, 4]])
    expect(convert(1007, "{{{1},{2}},{{3},{NULL}}}")).toEqual([[[1], [2]], [[3], [null]]])
  })
  it("drops dimension decorations", () => {
    expect(convert(1007, "[0:1]={1,2}")).toEqual([1, 2])
    expect(convert(1007, "[-2:-1][1:2]={{1,2},{3,4}}")).toEqual([[1, 2], [3, 4]])
  })
  it("unquotes and unescapes text elements, keeping a quoted NULL as a string", () => {
    expect(convert(1009, "{\"a b\",\"c\\\"d\",NULL,\"NULL\",\"back\\\\slash\",plain,\"\"}"))
      .toEqual(["a b", "c\"d", null, "NULL", "back\\slash", "plain", ""])
    expect(convert(1009, "{\"{braces}\",\"com,ma\",\"line\nfeed\",\"😀\",\"\u2028\"}"))
      .toEqual(["{braces}", "com,ma", "line\nfeed", "😀", "\u2028"])
    expect(convert(1009, "{{a,b},{\"c d\",NULL}}")).toEqual([["a", "b"], ["c d", null]])
  })
  it("treats unquoted null in any case as NULL, and longer words as text", () => {
    expect(convert(1009, "{null,Null,NULLS,nul}")).toEqual([null, null, "NULLS", "nul"])
  })
  it("converts elements by their type", () => {
    expect(convert(3807, "{\"{\\\"a\\\": 1}\",\"[1, 2]\",NULL}")).toEqual([{ a: 1 }, [1, 2], null])
    expect(convert(1001, "{\"\\\\x00ff\",\"\\\\x\"}")).toEqual([Buffer.from([0, 255]).toString("base64"), ""])
    expect(convert(1185, "{\"2026-11-23 20:00:00+00\",infinity}")).toEqual(["2026-11-23T20:00:00Z", "infinity"])
    expect(convert(1231, "{10.50,NaN}")).toEqual(["10.50", "NaN"])
    expect(convert(1022, "{1.5,NaN,-Infinity}")).toEqual([1.5, "NaN", "-Infinity"])
    expect(convert(1000, "{t,f,NULL}")).toEqual([true, false, null])
    expect(convert(1182, "{2026-11-23,\"0044-03-15 BC\"}")).toEqual(["2026-11-23", "0044-03-15 BC"])
  })
  it("splits box arrays on semicolons", () => {
    expect(convert(1020, "{(1,1),(0,0);(3,3),(2,2)}")).toEqual(["(1,1),(0,0)", "(3,3),(2,2)"])
  })
  it("splits other geometric arrays on commas inside quotes only", () => {
    expect(convert(1017, "{\"(1,2)\",\"(3,4)\"}")).toEqual(["(1,2)", "(3,4)"])
  })
  it("tolerates whitespace array_in accepts", () => {
    const write = arrayWriter(writeString)
    expect(JSON.parse(write(" { a , \"b\" , NULL } "))).toEqual(["a", "b", null])
  })
  it("rejects malformed text", () => {
    for (const text of ["", "1,2", "{1,2", "{\"a}", "{1}}", "[0:1]{1}", "{1}x"]) {
      expect(() => writers.get(1007)!(text), text).toThrow(ValueTextError)
    }
  })
})

describe("integer array fast path", () => {
  it("gives the same JSON as the full parser", () => {
    const write = writers.get(1007)!
    expect(write("{1,-2,NULL}")).toBe("[1,-2,null]")
    expect(write("{{1,NULL},{-3,4}}")).toBe("[[1,null],[-3,4]]")
    expect(write("{}")).toBe("[]")
    expect(JSON.parse(write("[1:2]={5,6}"))).toEqual([5, 6])
  })
  it("still rejects malformed text", () => {
    for (const text of ["{1,2", "{1}}", "1,2}", "{1}x"]) expect(() => writers.get(1016)!(text), text).toThrow(ValueTextError)
  })
})
