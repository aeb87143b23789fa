/**
 * The journal's line format, pure (no I/O):
 *
 *   {"v":1,"crc":"<8 hex digits>","event":<event JSON>}\n
 *
 * Each line is valid JSON (the file is JSON Lines, readable with `jq`). The
 * CRC-32 covers the exact bytes of `<event JSON>`, so it is checked on the
 * bytes read, without re-serialising anything.
 *
 * Scanning tells a torn tail from corruption: a crash during an append can
 * only damage the end of the file, so invalid lines followed by no valid line
 * are a torn tail (to be truncated), while an invalid line followed by a valid
 * one is corruption (the file must not be trusted).
 */
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { crc32 } from "node:zlib"
import { JournalEvent } from "./JournalEvent.js"

const PREFIX = Buffer.from('{"v":1,"crc":"', "latin1")
const MIDDLE = Buffer.from('","event":', "latin1")
const BODY_START = PREFIX.length + 8 + MIDDLE.length
const NEWLINE = 0x0a
const CLOSE_BRACE = 0x7d

const decodeEvent = Schema.decodeUnknownExit(JournalEvent)

const hex8 = (n: number): string => n.toString(16).padStart(8, "0")

/** One event as its journal line, newline included. */
export const encodeLine = (event: JournalEvent): string => {
  const body = JSON.stringify(event)
  return `{"v":1,"crc":"${hex8(crc32(body))}","event":${body}}\n`
}

export const encodeLines = (events: ReadonlyArray<JournalEvent>): Buffer =>
  Buffer.from(events.map(encodeLine).join(""), "utf8")

type LineCheck =
  | { readonly ok: true; readonly event: JournalEvent }
  | { readonly ok: false; readonly damaged: boolean; readonly detail: string }

/**
 * `damaged` = the bytes are not what we wrote (framing or checksum), the sign
 * of a torn write. A line whose checksum holds but whose event is unknown was
 * written whole, by another version: never truncated away.
 */
const checkLine = (buf: Buffer, start: number, end: number): LineCheck => {
  if (
    end - start < BODY_START + 1 ||
    buf.compare(PREFIX, 0, PREFIX.length, start, start + PREFIX.length) !== 0 ||
    buf.compare(MIDDLE, 0, MIDDLE.length, start + PREFIX.length + 8, start + BODY_START) !== 0 ||
    buf[end - 1] !== CLOSE_BRACE
  ) {
    return { ok: false, damaged: true, detail: "not a journal line" }
  }
  const crcText = buf.toString("latin1", start + PREFIX.length, start + PREFIX.length + 8)
  const body = buf.subarray(start + BODY_START, end - 1)
  if (!/^[0-9a-f]{8}$/.test(crcText) || parseInt(crcText, 16) !== crc32(body)) {
    return { ok: false, damaged: true, detail: "checksum mismatch" }
  }
  let json: unknown
  try {
    json = JSON.parse(body.toString("utf8"))
  } catch {
    return { ok: false, damaged: true, detail: "invalid JSON" }
  }
  const exit = decodeEvent(json)
  if (Exit.isFailure(exit)) {
    return { ok: false, damaged: false, detail: `unrecognised event: ${body.toString("utf8").slice(0, 200)}` }
  }
  return { ok: true, event: exit.value }
}

export interface ScanResult {
  readonly events: Array<JournalEvent>
  /** Bytes of valid lines: the file's length after a torn tail is cut. */
  readonly validBytes: number
  readonly lines: number
  /** Set when the file ends with a torn tail starting at `validBytes`. */
  readonly torn: { readonly detail: string } | undefined
}

export interface ScanCorruption {
  readonly offset: number
  readonly detail: string
}

export const scanJournal = (buf: Buffer): ScanResult | ScanCorruption => {
  const events: Array<JournalEvent> = []
  let offset = 0
  /** The first invalid line, while no valid line has followed it. */
  let firstBad: { offset: number; detail: string } | undefined = undefined
  while (offset < buf.length) {
    const newline = buf.indexOf(NEWLINE, offset)
    if (newline === -1) {
      // No newline: the last write never completed.
      firstBad ??= { offset, detail: "incomplete last line (no newline)" }
      break
    }
    const check = checkLine(buf, offset, newline)
    if (check.ok) {
      if (firstBad !== undefined) return firstBad
      events.push(check.event)
    } else if (!check.damaged) {
      return { offset, detail: check.detail }
    } else {
      firstBad ??= { offset, detail: check.detail }
    }
    offset = newline + 1
  }
  if (firstBad !== undefined) {
    return { events, validBytes: firstBad.offset, lines: events.length, torn: { detail: firstBad.detail } }
  }
  return { events, validBytes: buf.length, lines: events.length, torn: undefined }
}

export const isScanCorruption = (r: ScanResult | ScanCorruption): r is ScanCorruption => "offset" in r
