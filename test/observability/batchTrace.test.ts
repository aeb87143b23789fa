import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { describe, expect, it } from "vitest"
import { BatchTracer, type BatchFacts } from "../../src/observability/BatchTrace.js"
import { withSampleRatio } from "../../src/observability/tracing.js"

/** A tracer that keeps every span it makes. */
const recording = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const facts = (lastCommitEndLsn: number, lastTransaction = { committed: lastCommitEndLsn > 0, commitEndLsn: lastCommitEndLsn }): BatchFacts => ({
  records: 3,
  transactions: 1,
  xids: [742],
  firstCommitLsn: "0/16B3700",
  lastTransaction,
  lastCommitEndText: lastCommitEndLsn > 0 ? "0/16B3748" : undefined,
  tables: ["public.orders"],
  topics: ["outboxx.public.orders"]
})

const ended = (span: Tracer.NativeSpan) => span.status._tag === "Ended"

describe("BatchTracer", () => {
  it("a batch is a root with its facts; it ends when its checkpoint reaches the server, with a checkpoint span", () => {
    const { spans, tracer } = recording()
    const traces = new BatchTracer(tracer, "orders")
    const trace = traces.startBatch(1_000n, facts(0x16b3748))!
    trace.child("outboxx.route", 1_000n, 2_000n)
    trace.pending = 2
    const root = spans[0]!
    expect(root.name).toBe("outboxx.batch")
    expect(Option.isNone(root.parent)).toBe(true)
    expect(root.attributes.get("messaging.destination.name")).toBe("outboxx.public.orders")
    expect(root.attributes.get("outboxx.commit_end_lsn")).toBe("0/16B3748")
    expect(root.attributes.get("outboxx.xid")).toBe(742)
    trace.delivered()
    expect(root.events).toHaveLength(0)
    trace.delivered()
    expect(root.events.map((e) => e[0])).toEqual(["acknowledged"])
    // Not yet told to the server: still open.
    traces.checkpointed(0x16b3747)
    expect(ended(root)).toBe(false)
    traces.checkpointed(0x16b3748)
    expect(ended(root)).toBe(true)
    const checkpoint = spans.find((s) => s.name === "outboxx.checkpoint")!
    expect(Option.getOrUndefined(checkpoint.parent)).toBe(root)
    expect(spans.filter(ended)).toHaveLength(spans.length)
  })

  it("a batch that ends inside a transaction is checkpointed once that transaction commits; closeAll ends the rest as interrupted", () => {
    const { spans, tracer } = recording()
    const traces = new BatchTracer(tracer, "orders")
    const tx = { committed: false, commitEndLsn: 0 }
    const open = traces.startBatch(1n, facts(0, tx))!
    open.pending = 1
    open.delivered()
    traces.checkpointed(0x9000)
    expect(ended(spans[0]!)).toBe(false)
    // Its Commit came in the next batch.
    tx.committed = true
    tx.commitEndLsn = 0x1000
    traces.checkpointed(0x1000)
    expect(ended(spans[0]!)).toBe(true)
    const chunk = traces.startChunk(2n, "public.orders", 10, ["t"])!
    chunk.pending = 1
    chunk.delivered()
    expect(ended(spans.find((s) => s.name === "outboxx.snapshot.chunk")!)).toBe(true)
    const waiting = traces.startBatch(2n, facts(0x2000))!
    waiting.pending = 1
    traces.closeAll()
    const root = spans.find((s) => s.attributes.get("outboxx.commit_end_lsn") !== undefined && s !== spans[0])!
    expect(ended(root)).toBe(true)
    expect(root.status._tag === "Ended" && root.status.exit._tag).toBe("Failure")
  })

  it("creates nothing when tracing is off, and nothing for a batch the sampler drops", () => {
    expect(new BatchTracer(undefined, "orders").startBatch(1n, facts(1))).toBeUndefined()
    const { spans, tracer } = recording()
    const traces = new BatchTracer(withSampleRatio(tracer, 0), "orders")
    expect(traces.startBatch(1n, facts(1))).toBeUndefined()
    expect(traces.startChunk(1n, "public.orders", 10, ["t"])).toBeUndefined()
    // The dropped roots were asked for (and are unsampled), nothing else.
    expect(spans.every((s) => !s.sampled)).toBe(true)
  })
})
