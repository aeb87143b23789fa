/**
 * The package's library surface: Outboxx as a Layer, the settings and their
 * decoding, health, metrics and the typed errors, and nothing internal.
 * (test/e2e/embedded.test.ts runs a host application built on it.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Library from "../../src/index.js"

describe("library surface", () => {
  it("exports Outboxx, the config API, health, metrics and the errors, and no internals", () => {
    const names = Object.keys(Library).sort()
    for (const name of ["Outboxx", "decodeSettings", "loadSettings", "Settings", "ConfigError", "Metrics", "KafkaConfigError", "StateStoreError"]) {
      assert.include(names, name)
    }
    for (const internal of ["runStreaming", "superviseStreaming", "isTransient", "kafkaSink", "Pipeline", "pipelineLayer", "runDaemon", "runTail", "HealthState", "KafkaProducer", "TopicAdmin", "StateStore"]) {
      assert.notInclude(names, internal)
    }
  })

  it("builds Outboxx.layer from decoded settings without running anything", () => {
    const decoded = Library.decodeSettings(
      `[postgres]\nurl = "postgres://u@127.0.0.1:5432/db"\n[kafka]\nbrokers = ["127.0.0.1:9092"]\n[[streams]]\nname = "s"\ntables = ["t"]\n`,
      { path: "lib.toml", env: {} }
    )
    assert.isTrue(Result.isSuccess(decoded))
    if (!Result.isSuccess(decoded)) return
    assert.isTrue(Layer.isLayer(Library.Outboxx.layer(decoded.success)))
    assert.isTrue(Layer.isLayer(Library.Outboxx.layerFromFile("outboxx.toml")))
    assert.isTrue(Layer.isLayer(Library.Outboxx.routes))
  })
})
