/**
 * Test-only pgoutput encoder: builds the bytes PostgreSQL would send for a
 * decoded message, following "Logical Replication Message Formats". The xid
 * of Relation/Type/Insert/Update/Delete/Truncate/Message is written when the
 * message carries one (i.e. inside a stream block), and Stream Abort's
 * protocol-4 fields when they are set, so `decode(encode(m))` should equal m
 * (compared through `toPlain`). Tuples may be Tuple instances or plain arrays.
 */
import type { PgoutputMessage, TupleValue } from "../../src/decode/messages.js"
import { Unchanged } from "../../src/decode/messages.js"
import { Tuple } from "../../src/decode/tuple.js"
import type { PlainMessage } from "./plain.js"

export class ByteWriter {
  private readonly chunks: Array<Buffer> = []

  private push(b: Buffer): this {
    this.chunks.push(b)
    return this
  }
  u8(n: number): this {
    return this.push(Buffer.from([n & 0xff]))
  }
  char(c: string): this {
    return this.u8(c.charCodeAt(0))
  }
  u16(n: number): this {
    const b = Buffer.alloc(2)
    b.writeUInt16BE(n)
    return this.push(b)
  }
  u32(n: number): this {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n >>> 0)
    return this.push(b)
  }
  i32(n: number): this {
    const b = Buffer.alloc(4)
    b.writeInt32BE(n)
    return this.push(b)
  }
  /** Unsigned or signed 64-bit, from a number (exact below 2^53) or a bigint. */
  i64(n: number | bigint): this {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(BigInt.asIntN(64, BigInt(n)))
    return this.push(b)
  }
  cstr(s: string): this {
    return this.push(Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]))
  }
  bytes(b: Uint8Array): this {
    return this.push(Buffer.from(b))
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks)
  }
}

const writeTuple = (w: ByteWriter, tuple: Tuple | ReadonlyArray<TupleValue>): void => {
  const values = tuple instanceof Tuple ? tuple.values() : tuple
  w.u16(values.length)
  for (const value of values) {
    if (value === null) w.char("n")
    else if (value === Unchanged) w.char("u")
    else if (typeof value === "string") {
      const bytes = Buffer.from(value, "utf8")
      w.char("t").i32(bytes.length).bytes(bytes)
    } else w.char("b").i32(value.length).bytes(value)
  }
}

const optionalXid = (w: ByteWriter, xid: number | undefined): void => {
  if (xid !== undefined) w.u32(xid)
}

const IDENTITY = { default: "d", nothing: "n", full: "f", index: "i" } as const

export const encodePgoutput = (m: PgoutputMessage | PlainMessage): Buffer => {
  const w = new ByteWriter()
  switch (m.tag) {
    case "Begin":
      w.char("B").i64(m.finalLsn).i64(m.commitTime).u32(m.xid)
      break
    case "Commit":
      w.char("C").u8(m.flags).i64(m.commitLsn).i64(m.endLsn).i64(m.commitTime)
      break
    case "Origin":
      w.char("O").i64(m.originLsn).cstr(m.name)
      break
    case "Relation":
      w.char("R")
      optionalXid(w, m.xid)
      w.u32(m.relationId).cstr(m.schema).cstr(m.name).char(IDENTITY[m.replicaIdentity]).u16(m.columns.length)
      for (const c of m.columns) w.u8(c.isKey ? 1 : 0).cstr(c.name).u32(c.typeOid).i32(c.typeMod)
      break
    case "Type":
      w.char("Y")
      optionalXid(w, m.xid)
      w.u32(m.typeOid).cstr(m.schema).cstr(m.name)
      break
    case "Insert":
      w.char("I")
      optionalXid(w, m.xid)
      w.u32(m.relationId).char("N")
      writeTuple(w, m.newTuple)
      break
    case "Update":
      w.char("U")
      optionalXid(w, m.xid)
      w.u32(m.relationId)
      if (m.oldKind !== undefined && m.oldTuple !== undefined) {
        w.char(m.oldKind === "key" ? "K" : "O")
        writeTuple(w, m.oldTuple)
      }
      w.char("N")
      writeTuple(w, m.newTuple)
      break
    case "Delete":
      w.char("D")
      optionalXid(w, m.xid)
      w.u32(m.relationId).char(m.oldKind === "key" ? "K" : "O")
      writeTuple(w, m.oldTuple)
      break
    case "Truncate":
      w.char("T")
      optionalXid(w, m.xid)
      w.i32(m.relationIds.length).u8((m.cascade ? 1 : 0) | (m.restartIdentity ? 2 : 0))
      for (const id of m.relationIds) w.u32(id)
      break
    case "Message":
      w.char("M")
      optionalXid(w, m.xid)
      w.u8(m.transactional ? 1 : 0).i64(m.lsn).cstr(m.prefix).i32(m.content.length).bytes(m.content)
      break
    case "StreamStart":
      w.char("S").u32(m.xid).u8(m.firstSegment ? 1 : 0)
      break
    case "StreamStop":
      w.char("E")
      break
    case "StreamCommit":
      w.char("c").u32(m.xid).u8(m.flags).i64(m.commitLsn).i64(m.endLsn).i64(m.commitTime)
      break
    case "StreamAbort":
      w.char("A").u32(m.xid).u32(m.subXid)
      if (m.abortLsn !== undefined && m.abortTime !== undefined) w.i64(m.abortLsn).i64(m.abortTime)
      break
    case "BeginPrepare":
      w.char("b").i64(m.prepareLsn).i64(m.endLsn).i64(m.prepareTime).u32(m.xid).cstr(m.gid)
      break
    case "Prepare":
      w.char("P").u8(m.flags).i64(m.prepareLsn).i64(m.endLsn).i64(m.prepareTime).u32(m.xid).cstr(m.gid)
      break
    case "CommitPrepared":
      w.char("K").u8(m.flags).i64(m.commitLsn).i64(m.endLsn).i64(m.commitTime).u32(m.xid).cstr(m.gid)
      break
    case "RollbackPrepared":
      w.char("r").u8(m.flags).i64(m.prepareEndLsn).i64(m.rollbackEndLsn).i64(m.prepareTime).i64(m.rollbackTime)
        .u32(m.xid).cstr(m.gid)
      break
    case "StreamPrepare":
      w.char("p").u8(m.flags).i64(m.prepareLsn).i64(m.endLsn).i64(m.prepareTime).u32(m.xid).cstr(m.gid)
      break
  }
  return w.buffer()
}
