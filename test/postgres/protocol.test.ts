import { describe, expect, it } from "vitest"
import { parseLsn } from "../../src/postgres/lsn.js"
import {
  encodeStandbyStatus,
  isReplicationProtocolError,
  parseReplicationFrame,
  ReplicationProtocolError
} from "../../src/replication/protocol.js"
import type { PrimaryKeepalive, ReplicationFrame, XLogData } from "../../src/replication/protocol.js"

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex")

const ok = (frame: ReplicationFrame | ReplicationProtocolError): ReplicationFrame => {
  if (isReplicationProtocolError(frame)) throw new Error(frame.message)
  return frame
}
const bad = (frame: ReplicationFrame | ReplicationProtocolError): ReplicationProtocolError => {
  if (!isReplicationProtocolError(frame)) throw new Error(`expected an error, got ${frame.tag}`)
  return frame
}

describe("XLogData ('w')", () => {
  it("parses the header and points at the payload without copying", () => {
    const chunk = hex(`
      77
      00000016 b374d848
      00000016 b374d900
      0002b5e3 af16b1c0
      42 0102`)
    const frame = ok(parseReplicationFrame(chunk)) as XLogData
    expect(frame.tag).toBe("XLogData")
    expect(frame.walStart).toBe(parseLsn("16/B374D848"))
    expect(frame.walEnd).toBe(parseLsn("16/B374D900"))
    expect(frame.sendTime).toBe(0x0002b5e3af16b1c0)
    expect(frame.buffer).toBe(chunk)
    expect([frame.dataStart, frame.dataEnd]).toEqual([25, 28])
  })

  it("works on a sub-range of a larger buffer and allows an empty payload", () => {
    const inner = Buffer.concat([Buffer.from([0x77]), Buffer.alloc(24)])
    const chunk = Buffer.concat([Buffer.from("xx"), inner, Buffer.from("yy")])
    const frame = ok(parseReplicationFrame(chunk, 2, 2 + inner.length)) as XLogData
    expect([frame.dataStart, frame.dataEnd]).toEqual([27, 27])
    expect(frame.walStart).toBe(0)
  })

  it("rejects a short header and a position at or above 2^53", () => {
    expect(bad(parseReplicationFrame(Buffer.concat([Buffer.from("w"), Buffer.alloc(23)]))).reason).toContain("header")
    const huge = Buffer.concat([Buffer.from("w"), hex("0020000000000000"), Buffer.alloc(16)])
    expect(bad(parseReplicationFrame(huge)).reason).toContain("2^53")
  })
})

describe("Primary keepalive ('k')", () => {
  it("parses walEnd, sendTime and reply-requested", () => {
    const frame = ok(parseReplicationFrame(hex("6b 00000016b374d848 0000000000000064 01"))) as PrimaryKeepalive
    expect(frame).toEqual({ tag: "PrimaryKeepalive", walEnd: parseLsn("16/B374D848"), sendTime: 100, replyRequested: true })
    const quiet = ok(parseReplicationFrame(hex("6b 0000000000000001 ffffffffffffffff 00"))) as PrimaryKeepalive
    expect(quiet).toEqual({ tag: "PrimaryKeepalive", walEnd: 1, sendTime: -1, replyRequested: false })
  })

  it("rejects a wrong length and a reply byte other than 0 or 1", () => {
    expect(bad(parseReplicationFrame(hex("6b 0000000000000001 0000000000000000"))).reason).toContain("18 bytes")
    expect(bad(parseReplicationFrame(hex("6b 0000000000000001 0000000000000000 0000"))).reason).toContain("18 bytes")
    expect(bad(parseReplicationFrame(hex("6b 0000000000000001 0000000000000000 02"))).reason).toContain("0 or 1")
  })
})

describe("unknown and empty frames", () => {
  it("are typed errors carrying the bytes", () => {
    const unknown = bad(parseReplicationFrame(hex("64 0102")))
    expect(unknown).toBeInstanceOf(ReplicationProtocolError)
    expect(unknown._tag).toBe("ReplicationProtocolError")
    expect(unknown.kind).toBe("d")
    expect(unknown.reason).toContain("0x64")
    expect(unknown.bytesHex).toBe("640102")
    expect(bad(parseReplicationFrame(Buffer.alloc(0))).reason).toBe("empty frame")
    expect(bad(parseReplicationFrame(Buffer.alloc(4), 3, 9)).reason).toContain("outside")
    expect(bad(parseReplicationFrame(Buffer.alloc(600, 0x7a))).bytesHex.length).toBe(512)
  })
})

describe("Standby status update ('r')", () => {
  it("encodes 34 known bytes", () => {
    const out = encodeStandbyStatus({
      written: parseLsn("16/B374D848"),
      flushed: parseLsn("16/B374D800"),
      applied: parseLsn("0/0"),
      clientTime: 0x0002b5e3af16b1c0,
      replyRequested: false
    })
    expect(out.length).toBe(34)
    expect(out.toString("hex")).toBe(
      "72" + "00000016b374d848" + "00000016b374d800" + "0000000000000000" + "0002b5e3af16b1c0" + "00"
    )
    const again = encodeStandbyStatus({ written: 1, flushed: 1, applied: 1, clientTime: -1, replyRequested: true })
    expect(again.toString("hex")).toBe("72" + "0000000000000001".repeat(3) + "ffffffffffffffff" + "01")
    expect(again).not.toBe(out)
  })
})
