import * as Result from "effect/Result"
import { ConfigError } from "../../src/config/ConfigError.js"
import { decodeSettings } from "../../src/config/decode.js"
import type { Environment } from "../../src/config/interpolate.js"
import type { OutboxxSettings } from "../../src/config/model.js"

export const postgresSection = `[postgres]
url = "postgres://outboxx@127.0.0.1:5432/shop"
`
export const kafkaSection = `[kafka]
brokers = ["127.0.0.1:9092"]
`
export const streamSection = `[[streams]]
name = "orders"
tables = ["public.orders"]
`

/** The smallest valid file, with `extra` appended (TOML allows reopening nothing, so put new tables there). */
export const minimal = (extra = ""): string => `${postgresSection}${kafkaSection}${streamSection}${extra}`

export const decodeOk = (text: string, env: Environment = {}, path = "/etc/outboxx/outboxx.toml"): OutboxxSettings => {
  const result = decodeSettings(text, { path, env })
  if (Result.isFailure(result)) throw new Error(`expected a valid config, got:\n${result.failure.message}`)
  return result.success
}

export const decodeError = (text: string, env: Environment = {}, path = "outboxx.toml"): ConfigError => {
  const result = decodeSettings(text, { path, env })
  if (Result.isSuccess(result)) throw new Error("expected a ConfigError, the config decoded")
  if (!(result.failure instanceof ConfigError)) throw new Error("expected a ConfigError instance")
  return result.failure
}
