/**
 * Fixed-size byte slabs that are handed back explicitly and reused.
 *
 * Why: Kafka records are views into slabs (JsonBytes) and wait in mailboxes
 * and in flight until Kafka acknowledges them, long enough for V8 to promote
 * most of them to the old generation. A slab left to the GC is then freed
 * only by a full collection, which V8 starts when external memory has grown
 * by about 64 MB: a 1,000,000-change drain swung between 30 and 85 MB of
 * ArrayBuffers, and malloc kept the high-water mark resident. Slabs handed
 * back on acknowledgement are written again at once, so the bytes in use stay
 * those of the records in flight.
 *
 * The rule that keeps this safe: a slab is reused only when every holder has
 * released it. The writer holds the slab it writes into; every outbox that
 * got a record part in it holds it once (Router); a stream actor releases an
 * outbox's slabs only after Kafka acknowledged all its records and nothing
 * reads them any more. A holder that never releases (an outbox dropped on a
 * failure, the exactly-once sender's regrouped outboxes) only means the slab
 * is left to the GC like any other Buffer.
 */

export interface FastBuffer extends Buffer {
  utf8Write(text: string, offset: number, length?: number): number
  latin1Write(text: string, offset: number, length?: number): number
}

export class Slab {
  /** Holders that have not released the slab yet. */
  refs = 1
  constructor(readonly buf: FastBuffer, private readonly pool: SlabPool | undefined) {}

  /** One more holder (an outbox that got a record part in this slab). */
  retain(): void {
    this.refs++
  }

  /** Drops one hold; the last one returns a pooled slab for reuse. */
  release(): void {
    if (this.refs <= 0) throw new Error("slab released more often than retained")
    if (--this.refs === 0 && this.pool !== undefined) this.pool.recycle(this)
  }
}

export class SlabPool {
  private readonly free: Array<Slab> = []
  /** Slabs made (for tests and the benchmark's understanding); reused ones are not counted again. */
  allocated = 0

  constructor(
    readonly slabBytes: number,
    /** Free slabs kept at most; the rest are left to the GC. */
    private readonly maxFree: number
  ) {}

  /** A slab with one holder (the caller), at least `minBytes` long. Larger than `slabBytes` is never pooled. */
  acquire(minBytes = 0): Slab {
    if (minBytes > this.slabBytes) return new Slab(Buffer.allocUnsafeSlow(minBytes) as FastBuffer, undefined)
    const reused = this.free.pop()
    if (reused !== undefined) {
      reused.refs = 1
      return reused
    }
    this.allocated++
    return new Slab(Buffer.allocUnsafeSlow(this.slabBytes) as FastBuffer, this)
  }

  /** @internal called by Slab.release when the last holder let go. */
  recycle(slab: Slab): void {
    if (this.free.length < this.maxFree) this.free.push(slab)
  }

  get freeCount(): number {
    return this.free.length
  }
}

/** Releases each slab of `slabs` once (an outbox's, after delivery). */
export const releaseSlabs = (slabs: ReadonlyArray<Slab> | undefined): void => {
  if (slabs === undefined) return
  for (let i = 0; i < slabs.length; i++) slabs[i]!.release()
}
