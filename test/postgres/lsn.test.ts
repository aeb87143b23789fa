import { describe, expect, it } from "vitest"
import {
  dateToPgEpochMicros,
  formatLsn,
  LsnError,
  MAX_LSN,
  parseLsn,
  pgEpochMicrosToDate,
  pgEpochMicrosToIso,
  pgEpochMicrosToUnixMs,
  readLsn,
  unixMsToPgEpochMicros,
  writeLsn
} from "../../src/postgres/lsn.js"

describe("LSN text", () => {
  it("parses and formats like PostgreSQL (uppercase, no leading zeros)", () => {
    expect(parseLsn("16/B374D848")).toBe(0x16 * 2 ** 32 + 0xb374d848)
    expect(formatLsn(0x16 * 2 ** 32 + 0xb374d848)).toBe("16/B374D848")
    expect(formatLsn(0)).toBe("0/0")
    expect(formatLsn(0x16b3748)).toBe("0/16B3748")
    expect(formatLsn(2 ** 32)).toBe("1/0")
    expect(parseLsn("0/0")).toBe(0)
    expect(parseLsn("0/16b3748")).toBe(0x16b3748)
    expect(parseLsn("00000001/00000000")).toBe(2 ** 32)
  })

  it("writes the low half like toString(16) at every byte boundary and in between", () => {
    const lows = [0, 0xf, 0x10, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0xffffff, 0x1000000, 0x0f000000, 0xffffffff, 0x00a0000b]
    for (let i = 0; i < 2000; i++) lows.push(Math.floor(Math.random() * 2 ** 32))
    for (const lo of lows) {
      expect(formatLsn(0x3 * 2 ** 32 + lo)).toBe(`3/${lo.toString(16).toUpperCase()}`)
    }
  })

  it("round-trips across the exact range", () => {
    for (const n of [0, 1, 0xffffffff, 2 ** 32, 2 ** 40 + 12345, MAX_LSN - 1, MAX_LSN]) {
      expect(parseLsn(formatLsn(n))).toBe(n)
    }
    expect(formatLsn(MAX_LSN)).toBe("1FFFFF/FFFFFFFF")
  })

  it("rejects 2^53 and above instead of rounding", () => {
    expect(() => parseLsn("200000/0")).toThrow(LsnError)
    expect(() => parseLsn("FFFFFFFF/FFFFFFFF")).toThrow(/2\^53/)
    expect(() => formatLsn(2 ** 53)).toThrow(LsnError)
  })

  it("rejects malformed text and values", () => {
    for (const bad of ["", "16", "16/", "/1", "G/0", "1/2/3", " 1/2", "123456789/0", "1/-2"]) {
      expect(() => parseLsn(bad), bad).toThrow(LsnError)
    }
    for (const bad of [-1, 1.5, Number.NaN, Infinity]) expect(() => formatLsn(bad)).toThrow(LsnError)
  })
})

describe("LSN bytes", () => {
  it("reads and writes big-endian 64-bit positions at an offset", () => {
    const buf = Buffer.alloc(12, 0xff)
    writeLsn(buf, 2, parseLsn("16/B374D848"))
    expect(buf.toString("hex")).toBe("ffff00000016b374d848ffff")
    expect(readLsn(buf, 2)).toBe(parseLsn("16/B374D848"))
    writeLsn(buf, 0, MAX_LSN)
    expect(buf.subarray(0, 8).toString("hex")).toBe("001fffffffffffff")
    expect(readLsn(buf, 0)).toBe(MAX_LSN)
  })

  it("a position at or above 2^53 is a typed error", () => {
    const buf = Buffer.from("0020000000000000", "hex")
    expect(() => readLsn(buf, 0)).toThrow(LsnError)
    expect(() => readLsn(Buffer.from("ffffffffffffffff", "hex"), 0)).toThrow(LsnError)
    expect(() => writeLsn(Buffer.alloc(8), 0, 2 ** 53)).toThrow(LsnError)
  })
})

describe("PostgreSQL timestamps", () => {
  const micros = (Date.UTC(2026, 10, 23, 20, 0, 0, 123) - Date.UTC(2000, 0, 1)) * 1000 + 456

  it("keeps microseconds in ISO text", () => {
    expect(pgEpochMicrosToIso(micros)).toBe("2026-11-23T20:00:00.123456Z")
    expect(pgEpochMicrosToIso(0)).toBe("2000-01-01T00:00:00.000000Z")
    expect(pgEpochMicrosToIso(7)).toBe("2000-01-01T00:00:00.000007Z")
    expect(pgEpochMicrosToIso(1_000_050)).toBe("2000-01-01T00:00:01.000050Z")
    expect(pgEpochMicrosToIso(-1)).toBe("1999-12-31T23:59:59.999999Z")
  })

  it("converts to Unix milliseconds (floored) and Date", () => {
    expect(pgEpochMicrosToUnixMs(micros)).toBe(Date.UTC(2026, 10, 23, 20, 0, 0, 123))
    expect(pgEpochMicrosToUnixMs(-1)).toBe(Date.UTC(2000, 0, 1) - 1)
    expect(pgEpochMicrosToDate(micros).toISOString()).toBe("2026-11-23T20:00:00.123Z")
    expect(dateToPgEpochMicros(new Date("2026-11-23T20:00:00.123Z"))).toBe(micros - 456)
    expect(unixMsToPgEpochMicros(Date.UTC(2000, 0, 1))).toBe(0)
  })
})
