/**
 * An initial snapshot reads a table in parts, several at once: key ranges
 * (split at the planner's histogram of the first key column) or, without a
 * key, ranges of physical blocks. Each part is read in chunks, in order, by
 * one connection under the exported snapshot.
 *
 * What the journal may say: chunks of different parts are delivered in any
 * order between parts, but a crash resumes the table incrementally after one
 * key (docs/snapshots.md). So the key journaled is the end of the delivered
 * prefix of the table: every part before it finished, and the last delivered
 * chunk of the first unfinished one. Rows delivered past it are read again
 * after a crash (at least once), never skipped.
 */
import { Effect } from "effect"
import type pg from "pg"
import type { JournalEvent } from "../state/JournalEvent.js"
import { type KeyRange, keyRanges, relationBlocks } from "./chunks.js"
import type { SnapshotError } from "./SnapshotError.js"
import type { TableTarget } from "./tableTarget.js"

export type TablePart =
  | { readonly kind: "keys"; readonly run: TableRun; readonly target: TableTarget; readonly index: number; readonly range: KeyRange }
  | {
    readonly kind: "blocks"
    readonly run: TableRun
    readonly target: TableTarget
    readonly index: number
    readonly fromBlock: number
    readonly toBlock: number
    /** Blocks per chunk (about `snapshot_chunk_size` rows). */
    readonly step: number
  }

interface PartState {
  /** The key of the last row of the last delivered chunk. */
  lastKey: Array<string> | undefined
  reading: boolean
  /** Chunks handed to the stream actors and not delivered yet. */
  outstanding: number
  finished: boolean
}

/** One table of an initial snapshot: its parts' progress, turned into journal events. */
export class TableRun {
  readonly topics: ReadonlyArray<string>
  private readonly parts: Array<PartState> = []
  /** The journaled end of the delivered prefix. */
  private frontier: Array<string> | undefined
  private rows = 0
  private done = false

  constructor(
    readonly table: string,
    target: TableTarget,
    private readonly journal: (event: JournalEvent) => void,
    private readonly onDone: () => void
  ) {
    this.topics = [...new Set(target.plans.map((plan) => plan.topic))]
  }

  addPart(): number {
    this.parts.push({ lastKey: undefined, reading: true, outstanding: 0, finished: false })
    return this.parts.length - 1
  }

  /** A chunk of part `index` was handed to the stream actors. */
  sent(index: number): void {
    this.parts[index]!.outstanding++
  }

  /** A chunk of part `index` was delivered (chunks of one part are delivered in order). */
  delivered(index: number, rows: number, lastKey: Array<string> | undefined): void {
    const part = this.parts[index]!
    part.outstanding--
    if (lastKey !== undefined) part.lastKey = lastKey
    if (!part.reading && part.outstanding === 0) part.finished = true
    this.rows += rows
    this.advance(rows)
  }

  /** Part `index` has no more chunks to read. */
  readDone(index: number): void {
    const part = this.parts[index]!
    part.reading = false
    if (part.outstanding === 0) {
      part.finished = true
      this.advance(0)
    }
  }

  private advance(rows: number): void {
    let frontier = this.frontier
    let finished = true
    for (const part of this.parts) {
      if (part.lastKey !== undefined) frontier = part.lastKey
      if (!part.finished) {
        finished = false
        break
      }
    }
    if (rows > 0 || frontier !== this.frontier) {
      this.journal({ _tag: "SnapshotChunkDone", table: this.table, lowKey: this.frontier ?? null, highKey: frontier ?? null, rows })
      this.frontier = frontier
    }
    if (finished && !this.done) {
      this.done = true
      this.journal({ _tag: "SnapshotTableDone", table: this.table, rows: this.rows, at: new Date().toISOString() })
      this.onDone()
    }
  }
}

/**
 * Chunks per part below which a table is not split: a small table is one
 * part (one connection's round trips cost less than coordinating several).
 */
const MIN_CHUNKS_PER_PART = 4

/** The parts of one table, registered with its run. */
export const planParts = (
  client: pg.Client,
  target: TableTarget,
  parallelism: number,
  chunkSize: number,
  run: TableRun
): Effect.Effect<Array<TablePart>, SnapshotError> =>
  Effect.gen(function*() {
    const wanted = Math.max(1, Math.min(parallelism, Math.floor(target.estimatedRows / (MIN_CHUNKS_PER_PART * chunkSize))))
    if (target.chunkKey.length > 0) {
      const ranges = yield* keyRanges(client, target, wanted)
      return ranges.map((range): TablePart => ({ kind: "keys", run, target, index: run.addPart(), range }))
    }
    const blocks = yield* relationBlocks(client, target)
    const rowsPerBlock = blocks > 0 ? Math.max(1, target.estimatedRows / blocks) : 1
    const step = Math.max(1, Math.floor(chunkSize / rowsPerBlock))
    // Whole chunks per part, so no part ends with a sliver.
    const chunks = Math.max(1, Math.ceil(blocks / step))
    const count = Math.min(wanted, chunks)
    const parts: Array<TablePart> = []
    for (let p = 0; p < count; p++) {
      const fromBlock = Math.floor((p * chunks) / count) * step
      const toBlock = p === count - 1 ? Math.max(blocks, fromBlock) : Math.floor(((p + 1) * chunks) / count) * step
      parts.push({ kind: "blocks", run, target, index: run.addPart(), fromBlock, toBlock, step })
    }
    return parts
  })
