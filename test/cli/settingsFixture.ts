/** Settings for unit tests, decoded from TOML by the real config decoder. */
import * as Result from "effect/Result"
import { decodeSettings } from "../../src/config/decode.js"
import type { OutboxxSettings } from "../../src/config/model.js"

export const settingsFrom = (toml: string): OutboxxSettings => {
  const decoded = decodeSettings(toml, { path: "test.toml", env: {} })
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

export const minimalToml = (extra = "", streams = `[[streams]]\nname = "orders"\ntables = ["orders"]\n`): string =>
  `[postgres]
url = "postgres://outboxx:s3cret@127.0.0.1:5432/shop"
${extra}

[kafka]
brokers = ["127.0.0.1:9092"]

${streams}`
