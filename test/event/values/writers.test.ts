import { describe, expect, it } from "vitest"
import { builtinWriters, Oid, TypeRegistry, ValueTextError } from "../../../src/event/values/index.js"
import type { JsonWriter } from "../../../src/event/values/index.js"

const writers = builtinWriters()
const w = (oid: number): JsonWriter => {
  const writer = writers.get(oid)
  if (writer === undefined) throw new Error(`no writer for ${oid}`)
  return writer
}
/** Converts and checks the result is valid JSON equal to `expected`; returns the JSON text. */
const convert = (oid: number, text: string, expected: unknown): string => {
  const json = w(oid)(text)
  expect(JSON.parse(json)).toEqual(expected)
  return json
}

describe("integers", () => {
  it("keep every digit of int8 in the output text", () => {
    expect(convert(Oid.int8, "9223372036854775807", 9223372036854775807)).toBe("9223372036854775807")
    expect(convert(Oid.int8, "-9223372036854775808", -9223372036854775808)).toBe("-9223372036854775808")
  })
  it("write int2, int4 and oid as numbers", () => {
    expect(convert(Oid.int2, "-32768", -32768)).toBe("-32768")
    expect(convert(Oid.int4, "2147483647", 2147483647)).toBe("2147483647")
    expect(convert(Oid.oid, "4294967295", 4294967295)).toBe("4294967295")
  })
})

describe("floats", () => {
  it("are numbers as the server printed them", () => {
    expect(convert(Oid.float8, "1.2345678901234567e-05", 1.2345678901234567e-5)).toBe("1.2345678901234567e-05")
    expect(convert(Oid.float8, "1e+300", 1e300)).toBe("1e+300")
    expect(convert(Oid.float4, "-0", -0)).toBe("-0")
    expect(convert(Oid.float4, "3.4028235e+38", 3.4028235e38)).toBe("3.4028235e+38")
  })
  it("write NaN and the infinities as strings", () => {
    for (const oid of [Oid.float4, Oid.float8]) {
      convert(oid, "NaN", "NaN")
      convert(oid, "Infinity", "Infinity")
      convert(oid, "-Infinity", "-Infinity")
    }
  })
})

describe("numeric", () => {
  it("is an exact string", () => {
    expect(convert(Oid.numeric, "10.50", "10.50")).toBe("\"10.50\"")
    convert(Oid.numeric, "-123456789012345678901234567890.000000000000000000001", "-123456789012345678901234567890.000000000000000000001")
    convert(Oid.numeric, "NaN", "NaN")
    convert(Oid.numeric, "Infinity", "Infinity")
    convert(Oid.numeric, "-Infinity", "-Infinity")
  })
})

describe("bool", () => {
  it("maps t and f", () => {
    expect(w(Oid.bool)("t")).toBe("true")
    expect(w(Oid.bool)("f")).toBe("false")
  })
  it("rejects anything else", () => {
    expect(() => w(Oid.bool)("true")).toThrow(ValueTextError)
  })
})

describe("json and jsonb", () => {
  it("embed the value", () => {
    convert(Oid.json, "{\"a\": [1, 2, {\"b\": null}],\n \"c\": \"x\\ny\"}", { a: [1, 2, { b: null }], c: "x\ny" })
    convert(Oid.jsonb, "{\"é\": \"日本\", \"emoji\": \"😀\", \"n\": 1.50}", { "é": "日本", emoji: "😀", n: 1.5 })
    convert(Oid.jsonb, "\"just a string\"", "just a string")
    convert(Oid.jsonb, "null", null)
    convert(Oid.json, "[]", [])
  })
})

describe("bytea", () => {
  it("is base64 of the bytes", () => {
    convert(Oid.bytea, "\\x", "")
    convert(Oid.bytea, "\\x00ff10", Buffer.from([0, 255, 16]).toString("base64"))
    convert(Oid.bytea, "\\xDEADBEEF", Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString("base64"))
  })
  it("accepts the escape output format too", () => {
    convert(Oid.bytea, "ab\\\\c\\000\\377", Buffer.from([0x61, 0x62, 0x5c, 0x63, 0, 255]).toString("base64"))
  })
  it("rejects broken hex", () => {
    expect(() => w(Oid.bytea)("\\x0")).toThrow(ValueTextError)
    expect(() => w(Oid.bytea)("\\xzz")).toThrow(ValueTextError)
  })
})

describe("date and time", () => {
  it("writes dates as their text, infinities and BC included", () => {
    convert(Oid.date, "2026-11-23", "2026-11-23")
    convert(Oid.date, "infinity", "infinity")
    convert(Oid.date, "-infinity", "-infinity")
    convert(Oid.date, "0044-03-15 BC", "0044-03-15 BC")
  })
  it("writes timestamps with a T", () => {
    convert(Oid.timestamp, "2026-11-23 20:00:00.123456", "2026-11-23T20:00:00.123456")
    convert(Oid.timestamp, "2026-11-23 20:00:00", "2026-11-23T20:00:00")
    convert(Oid.timestamp, "12026-11-23 20:00:00", "12026-11-23T20:00:00")
    convert(Oid.timestamp, "0044-03-15 12:00:00 BC", "0044-03-15T12:00:00 BC")
    convert(Oid.timestamp, "infinity", "infinity")
    convert(Oid.timestamp, "-infinity", "-infinity")
  })
  it("writes UTC timestamptz with Z", () => {
    convert(Oid.timestamptz, "2026-11-23 20:00:00.123456+00", "2026-11-23T20:00:00.123456Z")
    convert(Oid.timestamptz, "2026-11-23 20:00:00+00", "2026-11-23T20:00:00Z")
    convert(Oid.timestamptz, "0044-03-15 12:00:00+00 BC", "0044-03-15T12:00:00Z BC")
    convert(Oid.timestamptz, "infinity", "infinity")
    convert(Oid.timestamptz, "-infinity", "-infinity")
  })
  it("converts other offsets to UTC", () => {
    convert(Oid.timestamptz, "2026-11-24 01:30:00.5+05:30", "2026-11-23T20:00:00.5Z")
    convert(Oid.timestamptz, "2026-12-31 22:00:00-03", "2027-01-01T01:00:00Z")
    convert(Oid.timestamptz, "1850-01-01 00:00:00+00:01:15", "1849-12-31T23:58:45Z")
    convert(Oid.timestamptz, "0001-01-01 00:30:00+01", "0001-12-31T23:30:00Z BC")
    convert(Oid.timestamptz, "0001-12-31 23:30:00-01 BC", "0001-01-01T00:30:00Z")
    convert(Oid.timestamptz, "0010-06-01 10:00:00+02 BC", "0010-06-01T08:00:00Z BC")
  })
  it("rejects a timestamptz without an offset", () => {
    expect(() => w(Oid.timestamptz)("2026-11-23 20:00:00")).toThrow(ValueTextError)
  })
})

describe("types written as their text", () => {
  const cases: Array<[string, number, string]> = [
    ["time", 1083, "20:00:00.123456"],
    ["timetz", 1266, "20:00:00+00"],
    ["interval", 1186, "1 year 2 mons 3 days 04:05:06.789"],
    ["uuid", 2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
    ["inet", 869, "192.168.0.1/24"],
    ["cidr", 650, "10.0.0.0/8"],
    ["macaddr", 829, "08:00:2b:01:02:03"],
    ["money", 790, "$1,234.56"],
    ["bit", 1560, "101"],
    ["varbit", 1562, "10101"],
    ["tsvector", 3614, "'a' 'b':2 'it''s'"],
    ["int4range", 3904, "[1,10)"],
    ["tstzrange", 3910, "[\"2026-01-01 00:00:00+00\",\"2026-02-01 00:00:00+00\")"],
    ["int4multirange", 4451, "{[1,3), [5,7)}"],
    ["point", 600, "(1.5,-2)"],
    ["xml", 142, "<a href=\"x\">\\</a>"],
    ["xid", 28, "735"],
    ["bpchar", 1042, "ab "],
    ["name", 19, "pg_catalog"],
    ["char", 18, "\""]
  ]
  for (const [name, oid, text] of cases) {
    it(name, () => {
      convert(oid, text, text)
    })
  }
})

describe("text escaping", () => {
  const tricky = [
    "",
    "plain",
    "quote \" and backslash \\",
    "line\nfeed\r\ttab",
    "nul \u0000 and \u001f and \u007f",
    "separators \u2028 \u2029",
    "emoji 😀👍🏽 and 日本語 and é",
    "lone surrogate \ud800 end",
    "</script>"
  ]
  for (const text of tricky) {
    it(JSON.stringify(text), () => {
      const json = convert(Oid.text, text, text)
      expect(json).toBe(JSON.stringify(text))
    })
  }
  it("only wraps clean text in quotes", () => {
    expect(w(Oid.text)("hello world")).toBe("\"hello world\"")
  })
})

describe("unknown and user types", () => {
  it("leaves unresolved OIDs to the resolver and defaults to text", () => {
    const registry = new TypeRegistry()
    expect(registry.writerFor(99999)).toBeUndefined()
    expect(registry.writerOrString(99999)("a\"b")).toBe("\"a\\\"b\"")
  })
  it("builds domain, enum, composite and array writers from pg_type rows", () => {
    const registry = new TypeRegistry()
    const base = { schema: "public", baseType: 0, element: 0, delimiter: ",", category: "U", labels: [] as ReadonlyArray<string> }
    registry.register([
      { ...base, oid: 50001, name: "posint", type: "d", baseType: Oid.int4, category: "N" },
      { ...base, oid: 50002, name: "_posint", type: "b", element: 50001, category: "A" },
      { ...base, oid: 50003, name: "mood", type: "e", category: "E" },
      { ...base, oid: 50004, name: "_mood", type: "b", element: 50003, category: "A" },
      { ...base, oid: 50005, name: "pair", type: "c", category: "C" },
      { ...base, oid: 50006, name: "_pair", type: "b", element: 50005, category: "A" },
      { ...base, oid: 50007, name: "posint2", type: "d", baseType: 50001, category: "N" },
      { ...base, oid: 50008, name: "ints", type: "d", baseType: 1007, category: "A" },
      { ...base, oid: 50009, name: "vec", type: "b", element: Oid.int2, category: "A" }
    ])
    const write = (oid: number, text: string) => JSON.parse(registry.writerFor(oid)!(text))
    expect(write(50001, "42")).toBe(42)
    expect(write(50002, "{1,NULL,3}")).toEqual([1, null, 3])
    expect(write(50003, "happy")).toBe("happy")
    expect(write(50004, "{happy,\"very sad\"}")).toEqual(["happy", "very sad"])
    expect(write(50005, "(1,\"a b\")")).toBe("(1,\"a b\")")
    expect(write(50006, "{\"(1,\\\"a b\\\")\",NULL}")).toEqual(["(1,\"a b\")", null])
    expect(write(50007, "7")).toBe(7)
    expect(write(50008, "{{1,2},{3,4}}")).toEqual([[1, 2], [3, 4]])
    expect(write(50009, "1 2 3")).toBe("1 2 3")
  })
})

describe("ValueTextError", () => {
  it("says what and where", () => {
    const error = new ValueTextError({ reason: "bool is neither t nor f", text: "x" })
    expect(error._tag).toBe("ValueTextError")
    expect(error.message).toContain("bool is neither t nor f")
  })
})
