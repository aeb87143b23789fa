/**
 * One trace per route batch (and one per initial-snapshot chunk): the unit
 * in which changes move, so an operator sees where a batch spent its time.
 *
 *   outboxx.batch                      root: slot, commit LSNs, xids, tables, topics, records
 *   ├── outboxx.decode                 pgoutput decoding of the batch's messages (time summed)
 *   ├── outboxx.route                  routing and encoding into Kafka records
 *   ├── KafkaProducer.send (producer)  per stream send: messaging.* attributes; several batches
 *   │                                  sent together are children of the first and links of the others
 *   │     event "acknowledged"         on the root, when Kafka acknowledged every record of the batch
 *   └── outboxx.checkpoint             acknowledged -> the confirmed LSN reaching the server
 *
 *   outboxx.snapshot.chunk             root: table, rows; `outboxx.snapshot.read` and the sends below it
 *
 * Spans are created with explicit start times from the tracer itself (not by
 * wrapping effects): the stages of a batch run in different fibers at
 * different times, and a batch must never become the parent of whatever
 * runs next. Nothing is created when tracing is off (`TracingEnabled`) or the
 * sampler drops the batch, so the cost is then one branch per batch.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as References from "effect/References"
import type * as Tracer from "effect/Tracer"
import { TracingEnabled } from "./tracing.js"

/** Wall-clock now in nanoseconds, as the tracer's clock. */
export const nowNs = (): bigint => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1_000_000))

const success: Exit.Exit<unknown, unknown> = Exit.void

/** The transaction whose confirmation checkpoints a batch (the tracker's handle, read live). */
export interface CheckpointTarget {
  readonly committed: boolean
  readonly commitEndLsn: number
}

export class BatchTrace {
  /** Outboxes handed to delivery and not yet acknowledged. */
  pending = 0
  ackedAt = 0n
  constructor(
    private readonly tracer: Tracer.Tracer,
    readonly root: Tracer.Span,
    /**
     * The batch's last transaction: once it is committed and its end LSN was
     * sent to the server, the batch is checkpointed (it may commit in a later
     * batch). Undefined for snapshot chunks, which end at their acknowledgement.
     */
    readonly checkpointAfter: CheckpointTarget | undefined,
    private readonly onAcked: (trace: BatchTrace) => void
  ) {}

  /** A finished child span. */
  child(name: string, start: bigint, end: bigint, attributes?: Record<string, unknown>, kind: Tracer.SpanKind = "internal"): void {
    const span = this.tracer.span({
      name,
      parent: Option.some(this.root),
      annotations: Context.empty(),
      links: [],
      startTime: start,
      kind,
      root: false,
      sampled: true
    })
    if (attributes !== undefined) for (const key in attributes) span.attribute(key, attributes[key])
    span.end(end, success)
  }

  /** One of the batch's outboxes is acknowledged by Kafka. */
  delivered(): void {
    if (--this.pending > 0) return
    this.ackedAt = nowNs()
    this.root.event("acknowledged", this.ackedAt)
    this.onAcked(this)
  }

  end(at: bigint, exit: Exit.Exit<unknown, unknown> = success): void {
    this.root.end(at, exit)
  }
}

export interface BatchFacts {
  readonly records: number
  readonly transactions: number
  /** Begin's commit LSNs / xids of the transactions in the batch (first few). */
  readonly xids: ReadonlyArray<number>
  readonly firstCommitLsn: string | undefined
  /** The batch's last transaction (committed in this batch or a later one). */
  readonly lastTransaction: CheckpointTarget | undefined
  readonly lastCommitEndText: string | undefined
  readonly tables: ReadonlyArray<string>
  readonly topics: ReadonlyArray<string>
}

export class BatchTracer {
  /** Acknowledged batches waiting for their checkpoint, in commit order. */
  private readonly awaitingCheckpoint: Array<BatchTrace> = []
  /** Batches started and not ended (ended as interrupted when streaming stops). */
  private readonly open = new Set<BatchTrace>()

  constructor(
    private readonly tracer: Tracer.Tracer | undefined,
    private readonly slot: string,
    /** Set on every root span: the fiber's span annotations (a cluster runner's pipeline and runner). */
    private readonly annotations: Readonly<Record<string, unknown>> = {}
  ) {}

  get enabled(): boolean {
    return this.tracer !== undefined
  }

  private root(name: string, start: bigint): Tracer.Span | undefined {
    const span = this.tracer!.span({
      name,
      parent: Option.none(),
      annotations: Context.empty(),
      links: [],
      startTime: start,
      kind: "internal",
      root: true,
      sampled: true
    })
    // The sampler said no: nothing of this batch is traced.
    if (!span.sampled) return undefined
    for (const key in this.annotations) span.attribute(key, this.annotations[key])
    return span
  }

  /** A route batch's trace, or undefined when tracing is off or the sampler drops it. */
  startBatch(start: bigint, facts: BatchFacts): BatchTrace | undefined {
    if (this.tracer === undefined) return undefined
    const root = this.root("outboxx.batch", start)
    if (root === undefined) return undefined
    root.attribute("outboxx.slot", this.slot)
    root.attribute("outboxx.role", "active")
    root.attribute("db.system.name", "postgresql")
    root.attribute("messaging.system", "kafka")
    root.attribute("messaging.operation.type", "send")
    root.attribute("messaging.batch.message_count", facts.records)
    if (facts.topics.length === 1) root.attribute("messaging.destination.name", facts.topics[0])
    root.attribute("outboxx.topics", facts.topics)
    root.attribute("outboxx.tables", facts.tables)
    root.attribute("outboxx.transactions", facts.transactions)
    if (facts.xids.length > 0) root.attribute("outboxx.xid", facts.xids[0])
    root.attribute("outboxx.xids", facts.xids)
    if (facts.firstCommitLsn !== undefined) root.attribute("outboxx.commit_lsn", facts.firstCommitLsn)
    if (facts.lastCommitEndText !== undefined) root.attribute("outboxx.commit_end_lsn", facts.lastCommitEndText)
    const trace = new BatchTrace(this.tracer, root, facts.lastTransaction, (t) => this.acked(t))
    this.open.add(trace)
    return trace
  }

  /** An initial-snapshot chunk's trace, ended when Kafka acknowledged it. */
  startChunk(start: bigint, table: string, rows: number, topics: ReadonlyArray<string>): BatchTrace | undefined {
    if (this.tracer === undefined) return undefined
    const root = this.root("outboxx.snapshot.chunk", start)
    if (root === undefined) return undefined
    root.attribute("outboxx.slot", this.slot)
    root.attribute("outboxx.snapshot.table", table)
    root.attribute("outboxx.snapshot.rows", rows)
    root.attribute("messaging.system", "kafka")
    root.attribute("messaging.batch.message_count", rows * topics.length)
    if (topics.length === 1) root.attribute("messaging.destination.name", topics[0])
    const trace = new BatchTrace(this.tracer, root, undefined, (t) => this.acked(t))
    this.open.add(trace)
    return trace
  }

  private acked(trace: BatchTrace): void {
    if (trace.checkpointAfter === undefined) {
      // A snapshot chunk: not confirmed by LSN at all.
      this.open.delete(trace)
      trace.end(trace.ackedAt)
    } else this.awaitingCheckpoint.push(trace)
  }

  /** The status update told the server `flushed`: batches up to it are checkpointed. */
  checkpointed(flushed: number): void {
    if (this.awaitingCheckpoint.length === 0) return
    const now = nowNs()
    let done = 0
    for (const trace of this.awaitingCheckpoint) {
      const target = trace.checkpointAfter!
      if (!target.committed || target.commitEndLsn > flushed) continue
      trace.child("outboxx.checkpoint", trace.ackedAt, now, { "outboxx.confirmed_lsn_number": flushed })
      trace.end(now)
      this.open.delete(trace)
      done++
    }
    if (done === this.awaitingCheckpoint.length) this.awaitingCheckpoint.length = 0
    else if (done > 0) {
      const rest = this.awaitingCheckpoint.filter((t) => this.open.has(t))
      this.awaitingCheckpoint.length = 0
      this.awaitingCheckpoint.push(...rest)
    }
  }

  /** Streaming stopped: whatever is still open ends, marked interrupted. */
  closeAll(): void {
    const now = nowNs()
    for (const trace of this.open) trace.end(now, Exit.interrupt())
    this.open.clear()
    this.awaitingCheckpoint.length = 0
  }
}

/**
 * Runs `effect` (a send) in the trace of the first traced batch among
 * `items`, linked to the other batches sent with it. When none is traced
 * (tracing off, or not sampled) it runs without spans, so no orphan traces
 * appear.
 */
export const inTraceOf = <A, E, R>(
  items: ReadonlyArray<{ readonly trace?: BatchTrace | undefined }>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  let first: BatchTrace | undefined
  let others: Array<Tracer.Span> | undefined
  for (const item of items) {
    const trace = item.trace
    if (trace === undefined || trace === first) continue
    if (first === undefined) first = trace
    else if (others === undefined) others = [trace.root]
    else if (!others.includes(trace.root)) others.push(trace.root)
  }
  if (first === undefined) return Effect.withTracerEnabled(effect, false)
  const traced = Effect.withParentSpan(effect, first.root)
  return others === undefined ? traced : Effect.linkSpans(traced, others)
}

/** The batch tracer for this scope: active when a real tracer is installed (`TracingEnabled`). */
export const makeBatchTracer = (slot: string) =>
  Effect.gen(function*() {
    const enabled = yield* TracingEnabled
    const tracer = enabled ? yield* Effect.tracer : undefined
    // Spans made here bypass Effect's span constructor, which would add these itself.
    const annotations = yield* References.TracerSpanAnnotations
    const batches = new BatchTracer(tracer, slot, annotations)
    yield* Effect.addFinalizer(() => Effect.sync(() => batches.closeAll()))
    return batches
  })
