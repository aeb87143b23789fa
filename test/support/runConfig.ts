/**
 * An `outboxx run` configuration for one e2e test: its own slot, publication,
 * state directory and topic prefix on the local servers, so tests never share
 * state and can run again on the same servers.
 */
import { writeFileSync } from "node:fs"
import path from "node:path"
import { kafkaBrokers, uniqueName } from "./servers.js"

export interface RunConfigOptions {
  /** Directory for the file and the state dir. */
  readonly dir: string
  /** Base for the unique slot and topic prefix names. */
  readonly name: string
  readonly url: string
  /** Extra lines for [postgres] and [kafka]. */
  readonly postgres?: string
  readonly kafka?: string
  /** The [[streams]] tables; `PREFIX` is replaced by the unique topic prefix. */
  readonly streams: string
  /** Kafka brokers (default: the local test broker). */
  readonly brokers?: ReadonlyArray<string>
  /** `http.listen` (default "": no server). */
  readonly http?: string
  /** Extra lines for [state] (e.g. `backend = "postgres"`). */
  readonly state?: string
  /** More sections, written before the streams (e.g. `[tracing]`); `PREFIX` is replaced there too. */
  readonly sections?: string
}

export interface RunConfig {
  readonly file: string
  readonly slot: string
  readonly prefix: string
  readonly stateDir: string
  /** Rewrites the file with other [[streams]] (same slot, state and prefix). */
  readonly rewrite: (streams: string) => void
}

export const writeRunConfig = (options: RunConfigOptions): RunConfig => {
  const slot = uniqueName(options.name)
  const prefix = uniqueName(`${options.name}.t`)
  const file = path.join(options.dir, `${slot}.toml`)
  const stateDir = path.join(options.dir, slot)
  const rewrite = (streams: string) =>
    writeFileSync(
      file,
      `
[postgres]
url = "${options.url}"
slot = "${slot}"
publication = "${slot}"
status_interval = "1s"
${options.postgres ?? ""}
[kafka]
brokers = ${JSON.stringify(options.brokers ?? [kafkaBrokers()[0]])}
${options.kafka ?? ""}
[state]
dir = "${stateDir}"
${options.state ?? ""}
[http]
listen = "${options.http ?? ""}"
[log]
level = "info"
${(options.sections ?? "").replaceAll("PREFIX", prefix)}
${streams.replaceAll("PREFIX", prefix)}
`
    )
  rewrite(options.streams)
  return { file, slot, prefix, stateDir, rewrite }
}
