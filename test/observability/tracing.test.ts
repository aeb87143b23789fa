import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { describe, expect, it } from "vitest"
import { tracesUrl, withSampleRatio } from "../../src/observability/tracing.js"

describe("tracing", () => {
  it("sends to the OTLP/HTTP traces path", () => {
    expect(tracesUrl("http://127.0.0.1:4318")).toBe("http://127.0.0.1:4318/v1/traces")
    expect(tracesUrl("http://127.0.0.1:4318/")).toBe("http://127.0.0.1:4318/v1/traces")
    expect(tracesUrl("http://127.0.0.1:4318/v1/traces")).toBe("http://127.0.0.1:4318/v1/traces")
  })

  it("samples root spans by ratio and lets children follow their parent", () => {
    const decisions: Array<boolean> = []
    const inner = Tracer.make({
      span(options) {
        decisions.push(options.sampled)
        return new Tracer.NativeSpan(options)
      }
    })
    const randoms = [0.1, 0.9]
    const sampled = withSampleRatio(inner, 0.5, () => randoms.shift() ?? 0)
    const base = {
      name: "batch",
      annotations: undefined as never,
      links: [],
      startTime: 0n,
      kind: "internal" as const,
      root: true,
      sampled: true
    }
    const kept = sampled.span({ ...base, parent: Option.none() })
    const dropped = sampled.span({ ...base, parent: Option.none() })
    sampled.span({ ...base, parent: Option.some(kept) })
    sampled.span({ ...base, parent: Option.some(dropped) })
    expect(decisions).toEqual([true, false, true, false])
  })
})
