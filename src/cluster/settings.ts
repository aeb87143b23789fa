/**
 * The cluster runner's configuration: a file with a `[cluster]` table (the
 * control database, this runner's address, the pipelines directory) beside
 * the usual `[http]`, `[tracing]` and `[log]`, and a directory of pipeline
 * files, each an ordinary outboxx.toml: one slot on one database.
 *
 * `outboxx run -c runner.toml` runs in cluster mode when the file has a
 * `[cluster]` table (docs/cluster.md). Every runner of a cluster reads the
 * same pipelines; each pipeline runs on exactly one runner at a time.
 */
import { readdir, readFile } from "node:fs/promises"
import * as Path from "node:path"
import * as Effect from "effect/Effect"
import * as Toml from "effect/encoding/Toml"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { ConfigError, ConfigIssue } from "../config/ConfigError.js"
import { decodeToml } from "../config/decode.js"
import {
  BoundedDuration,
  expecting,
  Http,
  Log,
  NonEmptyString,
  parseHostPort,
  PositiveInt,
  PostgresUrl,
  Tracing,
  withDefault
} from "../config/fileSchema.js"
import type { Environment } from "../config/interpolate.js"
import type { OutboxxSettings } from "../config/model.js"
import { loadSettings } from "../config/Settings.js"
import type { ShardOf } from "../postgres/shardFilter.js"

const HostPort = (allowPortZero: boolean) =>
  Schema.String.check(
    expecting(`"host:port"`, (s: string) => parseHostPort(s, allowPortZero) !== undefined)
  ).pipe(
    Schema.decodeTo(
      Schema.Struct({ host: Schema.String, port: Schema.Number }),
      SchemaTransformation.transform({
        decode: (s: string) => parseHostPort(s, allowPortZero)!,
        encode: (a) => `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`
      })
    )
  )

const Cluster = Schema.Struct({
  /** The control database: runners, shard locks (effect/cluster) and every pipeline's shared state. */
  url: PostgresUrl,
  /** This runner's address as the other runners reach it. */
  runner: HostPort(false),
  /** Where this runner listens for the other runners; default `runner`. */
  listen: Schema.optional(HostPort(false)),
  /** The directory of pipeline files (`*.toml`), relative to this file. */
  pipelines: NonEmptyString.pipe(withDefault("pipelines")),
  /**
   * How long a runner that stops refreshing its shard locks (frozen, cut off
   * from the control database) keeps its pipelines: the server ends its lock
   * session after this long, and another runner takes them over.
   */
  lockExpiration: BoundedDuration("5s", "10m").pipe(withDefault("20s")),
  /** This runner's share of the pipelines relative to the others. */
  weight: PositiveInt.pipe(withDefault(1)),
  /** The schema of the pipelines' shared state in the control database. */
  stateSchema: Schema.String.check(
    expecting("a schema name of 1 to 63 lowercase letters, digits or underscores", (s: string) => /^[a-z_][a-z0-9_]{0,62}$/.test(s))
  ).pipe(withDefault("outboxx_state"))
}).pipe(Schema.encodeKeys({ lockExpiration: "lock_expiration", stateSchema: "state_schema" }))

export const ClusterFile = Schema.Struct({
  cluster: Cluster,
  http: Http.pipe(withDefault({})),
  tracing: Tracing.pipe(withDefault({})),
  log: Log.pipe(withDefault({}))
})

export type ClusterFile = typeof ClusterFile.Type

/** One pipeline of the cluster: its name (the file's stem) and its settings. */
export interface ClusterPipeline {
  readonly name: string
  readonly file: string
  readonly settings: OutboxxSettings
  /** With `shards = N` the file is N pipelines `<name>-s<i>`, each one shard of the rows. */
  readonly shard?: ShardOf
}

export interface ClusterSettings extends ClusterFile {
  readonly configPath: string
  readonly pipelinesDir: string
  readonly pipelines: ReadonlyArray<ClusterPipeline>
}

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

/** Whether a configuration text is a cluster runner's (has a `[cluster]` table). */
export const isClusterConfig = (text: string): boolean => {
  const parsed = Toml.parse(text)
  return Result.isSuccess(parsed) && isTable(parsed.success) && parsed.success.cluster !== undefined
}

/** A pipeline's name is its file's stem: it keys the singleton and the shared state, and labels logs. */
const pipelineName = /^[a-z0-9][a-z0-9_-]{0,62}$/

/** The database a pipeline reads, without credentials: two pipelines on one slot of one database collide. */
const databaseOf = (url: Redacted.Redacted<string>): string => {
  try {
    const u = new URL(Redacted.value(url))
    return `${u.hostname}:${u.port || "5432"}/${u.pathname.slice(1)}`
  } catch {
    return ""
  }
}

const readText = (file: string) =>
  Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (cause) =>
      new ConfigError({
        file,
        issues: [new ConfigIssue({ path: "", message: `cannot read the file: ${(cause as Error).message}` })]
      })
  })

/**
 * A pipeline file in cluster mode. Its state must be shared (another runner
 * resumes it): unset, it goes to the control database, keyed by the
 * pipeline's name; an explicit `backend = "file"` is an error.
 */
const loadPipeline = (cluster: ClusterFile, dir: string, entry: string, env: Environment) =>
  Effect.gen(function*() {
    const file = Path.join(dir, entry)
    const name = entry.slice(0, -".toml".length)
    if (!pipelineName.test(name)) {
      return yield* new ConfigError({
        file,
        issues: [new ConfigIssue({
          path: "",
          message: `expected a pipeline file name of 1 to 63 lowercase letters, digits, "_" or "-" before .toml, found ${JSON.stringify(entry)}`
        })]
      })
    }
    const text = yield* readText(file)
    const parsed = Toml.parse(text)
    const rawState = Result.isSuccess(parsed) && isTable(parsed.success) && isTable(parsed.success.state)
      ? parsed.success.state
      : {}
    if (rawState.backend === "file") {
      return yield* new ConfigError({
        file,
        issues: [new ConfigIssue({
          path: "state.backend",
          message: `expected "postgres" (or nothing) in cluster mode, found "file": another runner must be able to resume this pipeline`
        })]
      })
    }
    const settings = yield* loadSettings(file, env)
    const shared: OutboxxSettings = rawState.backend === "postgres"
      ? settings
      : {
        ...settings,
        state: {
          ...settings.state,
          backend: "postgres",
          url: cluster.cluster.url,
          schema: rawState.schema === undefined ? cluster.cluster.stateSchema : settings.state.schema
        }
      }
    const count = shared.postgres.shards
    if (count === 1) return [{ name, file, settings: shared }] satisfies Array<ClusterPipeline>
    if (shared.postgres.publicationMode === "existing") {
      return yield* new ConfigError({
        file,
        issues: [new ConfigIssue({
          path: "postgres.publication_mode",
          message: `expected "filtered" with shards = ${count}, found "existing": each shard's publication carries its own row filter, which outboxx manages`
        })]
      })
    }
    const longest = `${shared.postgres.slot}_s${count - 1}`
    if (longest.length > 63 || `${shared.postgres.publication}_s${count - 1}`.length > 63) {
      return yield* new ConfigError({
        file,
        issues: [new ConfigIssue({
          path: "postgres.slot",
          message: `expected a slot and publication name short enough for a shard suffix (${longest} is over 63 characters)`
        })]
      })
    }
    // Shard i: slot and publication `<name>_s<i>`, state keyed `<pipeline>-s<i>`.
    return Array.from({ length: count }, (_, index): ClusterPipeline => ({
      name: `${name}-s${index}`,
      file,
      shard: { index, count },
      settings: {
        ...shared,
        postgres: { ...shared.postgres, slot: `${shared.postgres.slot}_s${index}`, publication: `${shared.postgres.publication}_s${index}` }
      }
    }))
  })

/** Reads the runner file and every pipeline file; fails with every file's issues at once. */
export const loadClusterSettings = Effect.fn("loadClusterSettings")(function*(
  path: string,
  env: Environment = process.env
): Effect.fn.Return<ClusterSettings, ConfigError> {
  const text = yield* readText(path)
  const { decoded } = yield* Effect.fromResult(decodeToml(ClusterFile, text, { path, env }))
  const pipelinesDir = Path.resolve(Path.dirname(path), decoded.cluster.pipelines)
  const entries = yield* Effect.tryPromise({
    try: () => readdir(pipelinesDir),
    catch: (cause) =>
      new ConfigError({
        file: path,
        issues: [new ConfigIssue({
          path: "cluster.pipelines",
          message: `cannot read the pipelines directory ${pipelinesDir}: ${(cause as Error).message}`
        })]
      })
  })
  const files = entries.filter((e) => e.endsWith(".toml")).sort()
  if (files.length === 0) {
    return yield* new ConfigError({
      file: path,
      issues: [new ConfigIssue({ path: "cluster.pipelines", message: `expected at least one pipeline file (*.toml) in ${pipelinesDir}, found none` })]
    })
  }
  const loaded = yield* Effect.forEach(files, (entry) => Effect.result(loadPipeline(decoded, pipelinesDir, entry, env)))
  const failures = loaded.filter(Result.isFailure).map((r) => r.failure)
  if (failures.length > 0) {
    // Every file's issues, each named by its own file.
    return yield* new ConfigError({
      file: path,
      issues: failures.flatMap((f) =>
        f.issues.map((i) => new ConfigIssue({ ...i, path: `${Path.basename(f.file)}${i.path === "" ? "" : `: ${i.path}`}` }))
      )
    })
  }
  const pipelines = loaded.filter(Result.isSuccess).flatMap((r) => r.success)
  const bySlot = new Map<string, string>()
  const clashes: Array<ConfigIssue> = []
  // A shard's name (<file>-s<i>) must not be another file's.
  const byName = new Map<string, string>()
  for (const p of pipelines) {
    const other = byName.get(p.name)
    if (other !== undefined) {
      clashes.push(new ConfigIssue({
        path: Path.basename(p.file),
        message: `expected a pipeline name of its own, found "${p.name}", which ${Path.basename(other)} also gives a pipeline (a shard is named <file>-s<i>)`
      }))
    }
    byName.set(p.name, p.file)
  }
  for (const p of pipelines) {
    const key = `${databaseOf(p.settings.postgres.url)} ${p.settings.postgres.slot}`
    const other = bySlot.get(key)
    if (other !== undefined) {
      clashes.push(new ConfigIssue({
        path: `${p.name}.toml: postgres.slot`,
        message: `expected a slot no other pipeline uses, found "${p.settings.postgres.slot}", which pipeline "${other}" reads on the same database`
      }))
    }
    bySlot.set(key, p.name)
  }
  // Exactly-once producers are fenced by a transactional id derived from the
  // slot name (deliver/kafka/TransactionalProducer.ts): two such pipelines on
  // one slot name, even on different databases, would fence each other.
  const exactlyOnceBySlot = new Map<string, string>()
  for (const p of pipelines) {
    if (p.settings.kafka.delivery !== "exactly-once") continue
    const other = exactlyOnceBySlot.get(p.settings.postgres.slot)
    if (other !== undefined) {
      clashes.push(new ConfigIssue({
        path: `${p.name}.toml: postgres.slot`,
        message: `expected a slot name no other exactly-once pipeline uses, found "${p.settings.postgres.slot}", as pipeline "${other}" does: ` +
          `their Kafka transactional ids (outboxx-<slot>) would fence each other`
      }))
    }
    exactlyOnceBySlot.set(p.settings.postgres.slot, p.name)
  }
  if (clashes.length > 0) return yield* new ConfigError({ file: path, issues: clashes })
  return { ...decoded, configPath: Path.resolve(path), pipelinesDir, pipelines }
})
