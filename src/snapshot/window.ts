/**
 * The watermark window of an incremental snapshot chunk (DBLog, Netflix 2019;
 * Debezium's incremental snapshots). Everything here follows the order of the
 * replication stream, never wall-clock time:
 *
 *   low watermark ... stream changes ... high watermark
 *            ^ the chunk SELECT ran somewhere in here
 *
 * A stream change inside the window for a key of the chunk means the stream
 * itself delivers that key's newer state (or its deletion) in order, so the
 * chunk's copy of the row is dropped. Rows no change touched are emitted at
 * the high watermark's position: any later change follows them in the topic.
 * A TRUNCATE inside the window drops the whole chunk (what the SELECT saw may
 * no longer exist; rows inserted after it arrive through the stream).
 *
 * Before the window, a change can still be newer than the SELECT: a
 * transaction becomes visible a moment after its commit reaches the WAL
 * (visibility.ts). RecentChanges remembers the keys of the table's changes by
 * transaction while its snapshot runs, and a chunk row that a transaction its
 * SELECT did not see changed is dropped too.
 *
 * Pure and synchronous: the Router calls it on its hot path.
 */

import { sees, type TransactionSnapshot } from "./visibility.js"

export type WindowPhase = "registered" | "open" | "closed"

export class ChunkWindow<Row> {
  private phaseValue: WindowPhase = "registered"
  private readonly changed = new Set<string>()
  private truncated = false
  /** What the SELECT returned, and the snapshot it ran in. */
  private read: { readonly rows: ReadonlyArray<Row>; readonly snapshot: TransactionSnapshot } | undefined = undefined

  constructor(
    /** Unique per chunk and run: watermarks of other chunks, runs or daemons never match it. */
    readonly id: string,
    private readonly keyOf: (row: Row) => string,
    /** The table's changes by transaction, from before this window opened. */
    private readonly recent: RecentChanges = new RecentChanges()
  ) {}

  get phase(): WindowPhase {
    return this.phaseValue
  }

  /** The low watermark reached the stream: from here on, changes shadow chunk rows. */
  openAtLow(): void {
    if (this.phaseValue === "registered") this.phaseValue = "open"
  }

  /** A stream change of the row with chunk key `key` (its old or new key). Ignored outside the window. */
  observe(key: string): void {
    if (this.phaseValue === "open") this.changed.add(key)
  }

  /** A TRUNCATE of the table; ignored outside the window. */
  observeTruncate(): void {
    if (this.phaseValue === "open") this.truncated = true
  }

  /**
   * The chunk's rows, as the SELECT between the watermarks returned them, and
   * the snapshot it ran in. Set before the high watermark is written.
   */
  setRows(rows: ReadonlyArray<Row>, snapshot: TransactionSnapshot): void {
    this.read = { rows, snapshot }
  }

  /**
   * The high watermark reached the stream: the rows to emit, in chunk order.
   * Undefined when the window is unusable (no low watermark seen, or no rows
   * set): the caller re-reads the chunk.
   */
  closeAtHigh(): ReadonlyArray<Row> | undefined {
    const wasOpen = this.phaseValue === "open"
    this.phaseValue = "closed"
    if (!wasOpen || this.read === undefined) return undefined
    if (this.truncated) return []
    const { rows, snapshot } = this.read
    const unseen = this.recent.unseenBy(snapshot)
    if (this.changed.size === 0 && unseen.size === 0) return rows
    return rows.filter((row) => {
      const key = this.keyOf(row)
      return !this.changed.has(key) && !unseen.has(key)
    })
  }

  /** Keys the stream changed inside the window (for tests and logs). */
  changedKeys(): ReadonlySet<string> {
    return this.changed
  }
}

/**
 * The chunk keys a table's stream changes touched, by transaction, kept while
 * the table's incremental snapshot runs (from before its first low watermark).
 * A transaction stays until a chunk's snapshot sees it; every later snapshot
 * sees it too, so this holds about one chunk's worth of changes.
 */
export class RecentChanges {
  private readonly keysByXid = new Map<number, Array<string>>()
  private lastXid = -1
  private lastKeys: Array<string> = []

  add(xid: number, key: string): void {
    if (xid !== this.lastXid) {
      this.lastXid = xid
      let keys = this.keysByXid.get(xid)
      if (keys === undefined) this.keysByXid.set(xid, keys = [])
      this.lastKeys = keys
    }
    this.lastKeys.push(key)
  }

  /** Keys changed by transactions `snapshot` did not see; forgets the transactions it saw. */
  unseenBy(snapshot: TransactionSnapshot): ReadonlySet<string> {
    const unseen = new Set<string>()
    for (const [xid, keys] of this.keysByXid) {
      if (sees(snapshot, xid)) {
        this.keysByXid.delete(xid)
        if (xid === this.lastXid) this.lastXid = -1
      } else {
        for (const key of keys) unseen.add(key)
      }
    }
    return unseen
  }

  /** Transactions remembered (for tests). */
  get size(): number {
    return this.keysByXid.size
  }
}

/**
 * The text identity of a row's chunk key: the key columns' text forms (as
 * both the SELECT and pgoutput render them under the canonical session
 * settings), joined by a separator no text form contains.
 */
export const chunkKeyText = (values: ReadonlyArray<unknown>): string => {
  let out = ""
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    const text = typeof value === "string" ? value : value === null ? "\u0001null" : "\u0001?"
    out += i === 0 ? text : "\u0000" + text
  }
  return out
}
