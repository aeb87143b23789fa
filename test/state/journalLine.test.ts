import * as fc from "fast-check"
import { crc32 } from "node:zlib"
import { describe, expect, it } from "vitest"
import type { JournalEvent } from "../../src/state/JournalEvent.js"
import { encodeLine, encodeLines, isScanCorruption, scanJournal } from "../../src/state/journalLine.js"
import { journalEvent } from "./arbitraries.js"

const events: Array<JournalEvent> = [
  { _tag: "SlotIdentified", systemId: "7301", timeline: 1, database: "shop", slot: "outboxx", createdAt: "2026-11-23T20:00:00.000Z" },
  { _tag: "CheckpointCommitted", lsn: "0/16B3748", at: "2026-11-23T20:00:01.000Z" },
  { _tag: "SnapshotChunkDone", table: "public.orders", lowKey: null, highKey: [42, "x"], rows: 1000 }
]

describe("journal lines", () => {
  it("each line is JSON holding a checksum and the event", () => {
    const line = encodeLine(events[1]!)
    expect(line.endsWith("\n")).toBe(true)
    const parsed = JSON.parse(line)
    expect(parsed.v).toBe(1)
    expect(parsed.crc).toMatch(/^[0-9a-f]{8}$/)
    expect(parsed.event).toEqual(events[1])
  })

  it("round-trips any event sequence", () => {
    fc.assert(fc.property(fc.array(journalEvent, { maxLength: 30 }), (evs) => {
      const buf = encodeLines(evs)
      const scan = scanJournal(buf)
      if (isScanCorruption(scan)) throw new Error(scan.detail)
      expect(scan.events).toEqual(evs)
      expect(scan.validBytes).toBe(buf.length)
      expect(scan.torn).toBeUndefined()
    }))
  })

  it("treats a partial last line as a torn tail", () => {
    const whole = encodeLines(events)
    const cut = whole.subarray(0, whole.length - 7)
    const scan = scanJournal(cut)
    if (isScanCorruption(scan)) throw new Error(scan.detail)
    expect(scan.events).toEqual(events.slice(0, 2))
    expect(scan.validBytes).toBe(encodeLines(events.slice(0, 2)).length)
    expect(scan.torn?.detail).toContain("no newline")
  })

  it("treats damaged lines at the end (no valid line after them) as a torn tail", () => {
    const good = encodeLines(events.slice(0, 2))
    const damaged = Buffer.from(encodeLine(events[2]!).replace("1000", "1001"))
    const scan = scanJournal(Buffer.concat([good, damaged, Buffer.from("\0\0\0\n")]))
    if (isScanCorruption(scan)) throw new Error(scan.detail)
    expect(scan.events).toEqual(events.slice(0, 2))
    expect(scan.validBytes).toBe(good.length)
    expect(scan.torn?.detail).toBe("checksum mismatch")
  })

  it("reports corruption followed by a valid line with its byte offset", () => {
    const first = encodeLine(events[0]!)
    const second = encodeLine(events[1]!).replace("16B3748", "16B3749")
    const scan = scanJournal(Buffer.from(first + second + encodeLine(events[2]!)))
    expect(isScanCorruption(scan)).toBe(true)
    if (!isScanCorruption(scan)) return
    expect(scan.offset).toBe(Buffer.byteLength(first))
    expect(scan.detail).toBe("checksum mismatch")
  })

  it("never truncates a whole line it cannot understand (a newer version's event)", () => {
    const body = JSON.stringify({ _tag: "FromTheFuture", x: 1 })
    const line = `{"v":1,"crc":"${crc32(body).toString(16).padStart(8, "0")}","event":${body}}\n`
    const scan = scanJournal(Buffer.from(encodeLine(events[0]!) + line))
    expect(isScanCorruption(scan)).toBe(true)
    if (!isScanCorruption(scan)) return
    expect(scan.detail).toContain("unrecognised event")
  })
})
