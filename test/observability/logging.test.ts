import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import { jsonLine } from "../../src/observability/logging.js"
import { TracingEnabled } from "../../src/observability/tracing.js"

const capture = () => {
  const lines: Array<Record<string, unknown>> = []
  const layer = Logger.layer([Logger.map(jsonLine, (line) => void lines.push(line))])
  return { lines, layer }
}

describe("JSON log lines", () => {
  it.effect("message is always a string; fields and annotations are flat; secrets stay redacted", () => {
    const { layer, lines } = capture()
    return Effect.gen(function*() {
      yield* Effect.logInfo("snapshot progress", { table: "public.orders", rows: 10, message: "clash" })
      yield* Effect.logWarning("two", "parts").pipe(Effect.annotateLogs({ stream: "orders", password: Redacted.make("s3cret") }))
      expect(lines[0]).toMatchObject({ level: "info", message: "snapshot progress", table: "public.orders", rows: 10, "field.message": "clash" })
      expect(lines[1]).toMatchObject({ level: "warn", message: "two parts", stream: "orders", password: "<redacted>" })
      expect(JSON.stringify(lines)).not.toContain("s3cret")
      expect(typeof lines[0]!.timestamp).toBe("string")
      // Tracing off: no trace ids (they would lead nowhere).
      expect(lines[0]!.trace_id).toBeUndefined()
    }).pipe(Effect.provide(layer))
  })

  it.effect("with tracing on, a line inside a span carries its trace and span ids; a failure's cause is `error`", () => {
    const { layer, lines } = capture()
    return Effect.gen(function*() {
      yield* Effect.logInfo("inside").pipe(Effect.withSpan("work"))
      yield* Effect.logError("failed", new Error("boom")).pipe(Effect.withSpan("work"))
      yield* Effect.logError("with cause").pipe(Effect.andThen(Effect.fail("x")), Effect.catchCause((cause) => Effect.logError("caught", cause)))
      expect(lines[0]!.trace_id).toMatch(/^[0-9a-f]{32}$/)
      expect(lines[0]!.span_id).toMatch(/^[0-9a-f]{16}$/)
      expect(lines[1]!.message).toContain("failed")
      expect(typeof lines[1]!.message).toBe("string")
      const caught = lines.find((l) => l.message === "caught")!
      expect(String(caught.error)).toContain("x")
    }).pipe(Effect.provide(Layer.mergeAll(layer, Layer.succeed(TracingEnabled, true), Layer.succeed(Tracer.Tracer, Tracer.make({ span: (o) => new Tracer.NativeSpan(o) })))))
  })
})
