import { describe, expect, it } from "vitest"
import { decodeSignal, decodeWatermark, encodeSignal, encodeWatermark } from "../../src/snapshot/messages.js"
import { rateAndEta, renderBar } from "../../src/snapshot/progress.js"

const bytes = (text: string) => new TextEncoder().encode(text)

describe("snapshot logical messages", () => {
  it("round-trips watermarks and requests", () => {
    const watermark = { kind: "high" as const, id: "abc-7", table: "public.orders", chunk: 3 }
    expect(decodeWatermark(bytes(encodeWatermark(watermark)))).toEqual(watermark)
    const signal = { type: "snapshot" as const, slot: "outboxx", tables: ["Sales.LineItems"], requestedAt: "2026-01-01T00:00:00.000Z" }
    expect(decodeSignal(bytes(encodeSignal(signal)))).toEqual(signal)
  })

  it("ignores what is not ours or malformed", () => {
    expect(decodeWatermark(bytes("not json"))).toBeUndefined()
    expect(decodeWatermark(bytes(`{"kind":"middle","id":"a","table":"t","chunk":1}`))).toBeUndefined()
    expect(decodeSignal(bytes(`{"type":"snapshot","slot":"s","tables":[1],"requestedAt":"x"}`))).toBeUndefined()
    expect(decodeSignal(bytes(`[]`))).toBeUndefined()
  })
})

describe("snapshot progress", () => {
  it("computes rate and ETA", () => {
    expect(rateAndEta({ table: "t", rows: 500, estimated: 1000, elapsedMs: 1000 })).toEqual({ rate: 500, etaSeconds: 1 })
    expect(rateAndEta({ table: "t", rows: 0, estimated: 1000, elapsedMs: 0 }).etaSeconds).toBeUndefined()
  })

  it("renders a bar with rows of the estimate, rate and ETA", () => {
    const line = renderBar({ table: "public.orders", rows: 520_000, estimated: 1_000_000, elapsedMs: 4_000 }, 10)
    expect(line).toBe("public.orders  [#####.....]  52% 520.0k/1.00M  130.0k rows/s  ETA 0:04")
  })
})
