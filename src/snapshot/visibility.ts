/**
 * Which committed transactions an incremental snapshot chunk's SELECT saw.
 *
 * PostgreSQL makes a transaction visible to new snapshots a moment after it
 * writes its commit record to the WAL (ProcArrayEndTransaction follows
 * RecordTransactionCommit). So a transaction can precede the low watermark
 * in the replication stream and still be invisible to a snapshot taken after
 * the watermark committed: on this project's 2-core VM, 1.6% of "watermark,
 * then snapshot" pairs under six single-row writers caught one. Its change
 * then sits before the window, the chunk holds the older row, and the chunk
 * row emitted at the high watermark would undo the change in the topic.
 * The chunk's own snapshot (`pg_current_snapshot()`, taken in the chunk's
 * REPEATABLE READ transaction) says which transactions it saw; window.ts
 * drops chunk rows that a transaction it did not see changed.
 */

/** A snapshot reduced to the 32-bit transaction ids pgoutput carries. */
export interface TransactionSnapshot {
  /** Every transaction below this had finished when the snapshot was taken. */
  readonly xmin: number
  /** No transaction from this one on had finished. */
  readonly xmax: number
  /** Transactions in [xmin, xmax) still running then. */
  readonly inProgress: ReadonlySet<number>
}

const xid32 = (text: string): number => {
  if (!/^\d+$/.test(text)) throw new Error(`not a transaction id: ${JSON.stringify(text)}`)
  return Number(BigInt(text) & 0xffffffffn)
}

/** Parses `pg_current_snapshot()::text`: `xmin:xmax:xip1,xip2,...` (64-bit ids; the list may be empty). */
export const parseTransactionSnapshot = (text: string): TransactionSnapshot => {
  const parts = text.split(":")
  if (parts.length !== 3) throw new Error(`not a pg_snapshot: ${JSON.stringify(text)}`)
  const [xmin, xmax, list] = parts as [string, string, string]
  return {
    xmin: xid32(xmin),
    xmax: xid32(xmax),
    inProgress: new Set(list === "" ? [] : list.split(",").map(xid32))
  }
}

/** `a` is older than `b`, modulo 2^32 like PostgreSQL's TransactionIdPrecedes (ids wrap around). */
const precedes = (a: number, b: number): boolean => ((a - b) | 0) < 0

/** Whether `snapshot` sees the changes of `xid`, a transaction the stream shows committed. */
export const sees = (snapshot: TransactionSnapshot, xid: number): boolean => {
  if (precedes(xid, snapshot.xmin)) return true
  if (!precedes(xid, snapshot.xmax)) return false
  return !snapshot.inProgress.has(xid)
}
