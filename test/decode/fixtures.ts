/**
 * One decoded message per message type and protocol variant, with the
 * decoder state it needs (protocol version, inside a stream block or not).
 * Tuples are plain arrays of values (see plain.ts).
 */
import { Unchanged } from "../../src/decode/messages.js"
import type { PlainMessage } from "./plain.js"

export interface Fixture {
  readonly name: string
  readonly version: 1 | 2 | 3 | 4
  readonly inStream: boolean
  readonly message: PlainMessage
}

/** 2026-11-23T20:00:00.123456Z as microseconds since 2000-01-01. */
export const COMMIT_TIME = (Date.UTC(2026, 10, 23, 20, 0, 0, 123) - Date.UTC(2000, 0, 1)) * 1000 + 456
const LSN = 0x16_b374d848 // "16/B374D848"
const XID = 4_000_000_123 // above 2^31: xids are unsigned

export const fixtures: ReadonlyArray<Fixture> = [
  { name: "Begin", version: 1, inStream: false, message: { tag: "Begin", finalLsn: LSN, commitTime: COMMIT_TIME, xid: XID } },
  {
    name: "Commit", version: 1, inStream: false,
    message: { tag: "Commit", flags: 0, commitLsn: LSN, endLsn: LSN + 48, commitTime: COMMIT_TIME }
  },
  { name: "Origin", version: 1, inStream: false, message: { tag: "Origin", originLsn: 0x1_00000000, name: "node_ü" } },
  {
    name: "Relation", version: 1, inStream: false,
    message: {
      tag: "Relation", xid: undefined, relationId: 16_385, schema: "Public Ünïcode", name: "订单", replicaIdentity: "default",
      columns: [
        { isKey: true, name: "id", typeOid: 20, typeMod: -1 },
        { isKey: false, name: "naïve name", typeOid: 1043, typeMod: 68 },
        { isKey: false, name: "payload", typeOid: 3802, typeMod: -1 }
      ]
    }
  },
  {
    name: "Relation full identity, no columns", version: 1, inStream: false,
    message: { tag: "Relation", xid: undefined, relationId: 4_294_967_295, schema: "s", name: "t", replicaIdentity: "full", columns: [] }
  },
  {
    name: "Relation index identity", version: 2, inStream: false,
    message: {
      tag: "Relation", xid: undefined, relationId: 1, schema: "s", name: "t", replicaIdentity: "index",
      columns: [{ isKey: true, name: "", typeOid: 25, typeMod: -1 }]
    }
  },
  {
    name: "Relation nothing identity in stream", version: 2, inStream: true,
    message: { tag: "Relation", xid: XID, relationId: 7, schema: "s", name: "t", replicaIdentity: "nothing", columns: [] }
  },
  { name: "Type", version: 1, inStream: false, message: { tag: "Type", xid: undefined, typeOid: 90_000, schema: "public", name: "mood" } },
  { name: "Type in stream", version: 3, inStream: true, message: { tag: "Type", xid: 12, typeOid: 90_000, schema: "public", name: "mood" } },
  {
    name: "Insert 6 text columns", version: 1, inStream: false,
    message: {
      tag: "Insert", xid: undefined, relationId: 16_385,
      newTuple: ["1", "alice", "alice@example.com", "2026-11-23 20:00:00.123456+00", "42.50", "{\"a\":1}"]
    }
  },
  {
    name: "Insert nulls, unchanged toast, binary, UTF-8", version: 1, inStream: false,
    message: {
      tag: "Insert", xid: undefined, relationId: 16_385,
      newTuple: [null, Unchanged, new Uint8Array([0, 1, 2, 255]), "", "héllo wörld 🎉 日本", new Uint8Array(0)]
    }
  },
  { name: "Insert no columns", version: 1, inStream: false, message: { tag: "Insert", xid: undefined, relationId: 1, newTuple: [] } },
  { name: "Insert in stream", version: 2, inStream: true, message: { tag: "Insert", xid: XID, relationId: 16_385, newTuple: ["1", null] } },
  {
    name: "Update without old tuple", version: 1, inStream: false,
    message: { tag: "Update", xid: undefined, relationId: 16_385, oldKind: undefined, oldTuple: undefined, newTuple: ["1", "bob", Unchanged] }
  },
  {
    name: "Update with old key", version: 1, inStream: false,
    message: { tag: "Update", xid: undefined, relationId: 16_385, oldKind: "key", oldTuple: ["1", null, null], newTuple: ["2", "bob", "x"] }
  },
  {
    name: "Update with full old row", version: 1, inStream: false,
    message: { tag: "Update", xid: undefined, relationId: 16_385, oldKind: "full", oldTuple: ["1", "älice", "x"], newTuple: ["1", "bob", "x"] }
  },
  {
    name: "Update full old row in stream", version: 4, inStream: true,
    message: { tag: "Update", xid: 99, relationId: 16_385, oldKind: "full", oldTuple: ["1"], newTuple: ["2"] }
  },
  {
    name: "Delete key", version: 1, inStream: false,
    message: { tag: "Delete", xid: undefined, relationId: 16_385, oldKind: "key", oldTuple: ["1", null, null] }
  },
  {
    name: "Delete full", version: 1, inStream: false,
    message: { tag: "Delete", xid: undefined, relationId: 16_385, oldKind: "full", oldTuple: ["1", "alice", new Uint8Array([9])] }
  },
  {
    name: "Delete in stream", version: 2, inStream: true,
    message: { tag: "Delete", xid: XID, relationId: 16_385, oldKind: "key", oldTuple: ["1"] }
  },
  {
    name: "Truncate plain", version: 1, inStream: false,
    message: { tag: "Truncate", xid: undefined, cascade: false, restartIdentity: false, relationIds: [16_385] }
  },
  {
    name: "Truncate cascade restart identity", version: 1, inStream: false,
    message: { tag: "Truncate", xid: undefined, cascade: true, restartIdentity: true, relationIds: [16_385, 16_390, 4_294_967_295] }
  },
  {
    name: "Truncate restart identity in stream", version: 2, inStream: true,
    message: { tag: "Truncate", xid: 5, cascade: false, restartIdentity: true, relationIds: [1, 2] }
  },
  {
    name: "Message transactional", version: 1, inStream: false,
    message: {
      tag: "Message", xid: undefined, transactional: true, lsn: LSN, prefix: "outboxx/heartbeat",
      content: Buffer.from("{\"ok\":true,\"ü\":1}")
    }
  },
  {
    name: "Message non-transactional, empty", version: 1, inStream: false,
    message: { tag: "Message", xid: undefined, transactional: false, lsn: 0, prefix: "", content: Buffer.alloc(0) }
  },
  {
    name: "Message in stream", version: 2, inStream: true,
    message: { tag: "Message", xid: XID, transactional: true, lsn: LSN, prefix: "p", content: Buffer.from([0, 0, 1]) }
  },
  { name: "Stream Start first", version: 2, inStream: false, message: { tag: "StreamStart", xid: XID, firstSegment: true } },
  { name: "Stream Start later", version: 4, inStream: false, message: { tag: "StreamStart", xid: XID, firstSegment: false } },
  { name: "Stream Stop", version: 2, inStream: true, message: { tag: "StreamStop" } },
  {
    name: "Stream Commit", version: 2, inStream: false,
    message: { tag: "StreamCommit", xid: XID, flags: 0, commitLsn: LSN, endLsn: LSN + 100, commitTime: COMMIT_TIME }
  },
  {
    name: "Stream Abort v2", version: 2, inStream: false,
    message: { tag: "StreamAbort", xid: XID, subXid: XID + 1, abortLsn: undefined, abortTime: undefined }
  },
  {
    name: "Stream Abort v4 non-parallel", version: 4, inStream: false,
    message: { tag: "StreamAbort", xid: XID, subXid: XID, abortLsn: undefined, abortTime: undefined }
  },
  {
    name: "Stream Abort v4 parallel", version: 4, inStream: false,
    message: { tag: "StreamAbort", xid: XID, subXid: XID + 1, abortLsn: LSN, abortTime: COMMIT_TIME }
  },
  {
    name: "Begin Prepare", version: 3, inStream: false,
    message: { tag: "BeginPrepare", prepareLsn: LSN, endLsn: LSN + 8, prepareTime: COMMIT_TIME, xid: XID, gid: "gid-ü-1" }
  },
  {
    name: "Prepare", version: 3, inStream: false,
    message: { tag: "Prepare", flags: 0, prepareLsn: LSN, endLsn: LSN + 8, prepareTime: COMMIT_TIME, xid: XID, gid: "g" }
  },
  {
    name: "Commit Prepared", version: 3, inStream: false,
    message: { tag: "CommitPrepared", flags: 0, commitLsn: LSN, endLsn: LSN + 8, commitTime: COMMIT_TIME, xid: XID, gid: "g" }
  },
  {
    name: "Rollback Prepared", version: 4, inStream: false,
    message: {
      tag: "RollbackPrepared", flags: 0, prepareEndLsn: LSN, rollbackEndLsn: LSN + 8,
      prepareTime: COMMIT_TIME, rollbackTime: COMMIT_TIME + 1, xid: XID, gid: ""
    }
  },
  {
    name: "Stream Prepare", version: 3, inStream: false,
    message: { tag: "StreamPrepare", flags: 0, prepareLsn: LSN, endLsn: LSN + 8, prepareTime: -1, xid: XID, gid: "g" }
  }
]
