import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { ConfigError } from "../../src/config/ConfigError.js"
import { loadSettings, Settings } from "../../src/config/Settings.js"
import { decodeOk, minimal } from "./fixtures.js"

const tempConfig = (text: string): string => {
  const dir = mkdtempSync(Path.join(tmpdir(), "outboxx-config-"))
  const file = Path.join(dir, "outboxx.toml")
  writeFileSync(file, text)
  return file
}

describe("loadSettings", () => {
  it.effect("reads and decodes a file, resolving state.dir next to it", () =>
    Effect.gen(function*() {
      const file = tempConfig(minimal())
      const settings = yield* loadSettings(file, {})
      assert.strictEqual(settings.configPath, file)
      assert.strictEqual(settings.state.dir, Path.join(Path.dirname(file), ".outboxx"))
      assert.strictEqual(settings.streams[0].name, "orders")
    }))

  it.effect("fails with a ConfigError naming a missing file", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(loadSettings("does/not/exist.toml", {}))
      assert.instanceOf(error, ConfigError)
      assert.strictEqual(error.file, "does/not/exist.toml")
      assert.strictEqual(error.issues[0].path, "")
      assert.include(error.message, `does/not/exist.toml: file not found: ${Path.resolve("does/not/exist.toml")}`)
    }))

  it.effect("fails with a ConfigError for a directory", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(Path.join(tmpdir(), "outboxx-config-"))
      const error = yield* Effect.flip(loadSettings(dir, {}))
      assert.include(error.message, "expected a file, found a directory")
    }))

  it.effect("uses the given environment for interpolation", () =>
    Effect.gen(function*() {
      const file = tempConfig(minimal().replace("127.0.0.1:9092", "${KAFKA}"))
      const exit = yield* Effect.exit(loadSettings(file, {}))
      assert.isTrue(Exit.isFailure(exit))
      const settings = yield* loadSettings(file, { KAFKA: "127.0.0.1:19092" })
      assert.deepStrictEqual(settings.kafka.brokers, ["127.0.0.1:19092"])
    }))
})

describe("Settings", () => {
  it.effect("layerFromFile provides the decoded settings", () =>
    Effect.gen(function*() {
      const settings = yield* Settings
      assert.strictEqual(settings.kafka.clientId, "outboxx")
    }).pipe(Effect.provide(Settings.layerFromFile(tempConfig(minimal()), {}))))

  it.effect("layerFromFile fails the layer with the ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(Effect.asVoid(Settings), Settings.layerFromFile(tempConfig("[kafak]\n"), {}))
      )
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "did you mean `kafka`?")
    }))

  it.effect("layer provides a given value", () => {
    const value = decodeOk(minimal())
    return Effect.gen(function*() {
      assert.strictEqual(yield* Settings, value)
    }).pipe(Effect.provide(Layer.merge(Settings.layer(value), Layer.empty)))
  })
})
