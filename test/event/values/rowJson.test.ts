import { describe, expect, it } from "vitest"
import { Unchanged } from "../../../src/decode/messages.js"
import type { TupleValue } from "../../../src/decode/messages.js"
import { buildRowJson, builtinWriters, keyPrefixes, Oid } from "../../../src/event/values/index.js"

const writers = builtinWriters()
const columns = ["id", "total", "name \"quoted\"", "meta", "at", "paid"]
const oids = [Oid.int8, Oid.numeric, Oid.text, Oid.jsonb, Oid.timestamptz, Oid.bool]
const prefixes = keyPrefixes(columns)
const rowWriters = oids.map((oid) => writers.get(oid)!)

describe("buildRowJson", () => {
  it("builds the row object text", () => {
    const values: Array<TupleValue> = ["9223372036854775807", "10.50", "Zoë\n", "{\"a\": 1}", "2026-11-23 20:00:00.123456+00", "t"]
    const json = buildRowJson(prefixes, rowWriters, values)
    expect(json).toBe(
      "{\"id\":9223372036854775807,\"total\":\"10.50\",\"name \\\"quoted\\\"\":\"Zoë\\n\",\"meta\":{\"a\": 1}," +
        "\"at\":\"2026-11-23T20:00:00.123456Z\",\"paid\":true}"
    )
    expect(JSON.parse(json)).toEqual({
      id: 9223372036854775807, total: "10.50", "name \"quoted\"": "Zoë\n", meta: { a: 1 },
      at: "2026-11-23T20:00:00.123456Z", paid: true
    })
  })
  it("writes NULL as null and binary values as base64", () => {
    const values: Array<TupleValue> = [null, null, new Uint8Array([1, 2, 3]), null, null, "f"]
    expect(JSON.parse(buildRowJson(prefixes, rowWriters, values)))
      .toEqual({ id: null, total: null, "name \"quoted\"": "AQID", meta: null, at: null, paid: false })
  })
  it("base64-encodes a Uint8Array view by its own bytes only", () => {
    const backing = new Uint8Array([9, 9, 1, 2, 9])
    const values: Array<TupleValue> = ["1", null, backing.subarray(2, 4), null, null, "t"]
    expect(JSON.parse(buildRowJson(prefixes, rowWriters, values))["name \"quoted\""]).toBe("AQI=")
  })
  it("leaves out masked columns and never starts with a comma", () => {
    const values: Array<TupleValue> = ["1", "2", "x", "null", "infinity", "t"]
    const mask = [false, true, false, true, false, true]
    expect(buildRowJson(prefixes, rowWriters, values, mask)).toBe("{\"total\":\"2\",\"meta\":null,\"paid\":true}")
    expect(buildRowJson(prefixes, rowWriters, values, [false, false, false, false, false, false])).toBe("{}")
  })
  it("reports unchanged TOAST columns it could not fill", () => {
    const values: Array<TupleValue> = ["1", "2", Unchanged, Unchanged, null, "t"]
    const unchanged: Array<number> = []
    const json = buildRowJson(prefixes, rowWriters, values, undefined, unchanged)
    expect(JSON.parse(json)).toEqual({ id: 1, total: "2", at: null, paid: true })
    expect(unchanged).toEqual([2, 3])
  })
  it("fills unchanged columns from the old row when it has them", () => {
    const values: Array<TupleValue> = [Unchanged, "2", Unchanged, Unchanged, null, "t"]
    const before: Array<TupleValue> = ["1", "1", "old text", Unchanged, null, "f"]
    const unchanged: Array<number> = []
    const json = buildRowJson(prefixes, rowWriters, values, undefined, unchanged, before)
    expect(JSON.parse(json)).toEqual({ id: 1, total: "2", "name \"quoted\"": "old text", at: null, paid: true })
    expect(unchanged).toEqual([3])
  })
  it("escapes column names once, in the prefixes", () => {
    expect(keyPrefixes(["a", "b\\c", "é\u2028"])).toEqual(["\"a\":", "\"b\\\\c\":", "\"é\u2028\":"])
  })
})
