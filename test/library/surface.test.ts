/** The package's library surface: the pipeline composes as a Layer from decoded settings. */
import { assert, describe, it } from "@effect/vitest"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { decodeSettings, HealthState, KafkaProducer, Pipeline, pipelineLayer, Settings, StateStore } from "../../src/index.js"

describe("library surface", () => {
  it("builds the pipeline Layer from settings without running anything", () => {
    const decoded = decodeSettings(
      `[postgres]\nurl = "postgres://u@127.0.0.1:5432/db"\n[kafka]\nbrokers = ["127.0.0.1:9092"]\n[[streams]]\nname = "s"\ntables = ["t"]\n`,
      { path: "lib.toml", env: {} }
    )
    assert.isTrue(Result.isSuccess(decoded))
    if (!Result.isSuccess(decoded)) return
    const settings = decoded.success
    const layer = pipelineLayer(settings).pipe(
      Layer.provide(Settings.layer(settings)),
      Layer.provideMerge(HealthState.layer(settings.postgres.slot, settings.postgres.publication))
    )
    assert.isTrue(Layer.isLayer(layer))
    for (const service of [Pipeline, KafkaProducer, StateStore, Settings, HealthState]) assert.isString(service.key)
  })
})
