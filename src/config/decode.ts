/**
 * Text of `outboxx.toml` + environment -> `OutboxxSettings`, without touching
 * the file system (tests use this directly).
 *
 * Steps, each adding to one list of issues so a user sees every problem at once:
 * TOML parse -> `${NAME}` interpolation -> OUTBOXX_POSTGRES_URL override ->
 * unknown keys (with "did you mean") -> Schema decode (types, enums, formats,
 * cross-key rules, and the camelCase shape via encodeKeys) -> the file's location.
 */
import * as Toml from "effect/encoding/Toml"
import * as Path from "node:path"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { ConfigError, ConfigIssue } from "./ConfigError.js"
import { crossChecks, defaultOutboxTopic } from "./crossChecks.js"
import { deadLetterTopicOf } from "./topic.js"
import { describeValue, OutboxxFile } from "./fileSchema.js"
import { type Environment, interpolateTree } from "./interpolate.js"
import { formatKeyPath, type KeyPath } from "./keyPath.js"
import type { OutboxxSettings } from "./model.js"
import { findUnknownKeys } from "./unknownKeys.js"

export const postgresUrlOverrideVariable = "OUTBOXX_POSTGRES_URL"

export interface DecodeOptions {
  /** The file name as the user gave it; used in messages and to resolve relative paths. */
  readonly path: string
  readonly env: Environment
}

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

const issueAt = (path: KeyPath, message: string): ConfigIssue => new ConfigIssue({ path: formatKeyPath(path), message })

const missingKey = "missing required key"

const missingKeyMessage = (path: KeyPath): string => {
  const key = String(path[path.length - 1])
  if (path.length === 1 && key === "streams") return "expected at least one [[streams]] table, found none"
  if (path.length === 1) return `expected a [${key}] table, found none`
  return `expected \`${key}\` to be set, found nothing`
}

// Schema's built-in messages ("Expected string", "Missing key") reworded to the
// "expected X, found Y" style of our own filters.
const leafMessage = (issue: SchemaIssue.Leaf): string => {
  switch (issue._tag) {
    case "MissingKey":
      return missingKey
    case "InvalidType": {
      const found = SchemaIssue.hasInput(issue) ? `, found ${describeValue(issue.input)}` : ""
      const expected = SchemaIssue.defaultLeafHook(issue).replace(/^Expected /, "").replace(/, got .*$/s, "")
      return `expected ${readableType(expected)}${found}`
    }
    default: {
      const message = SchemaIssue.defaultLeafHook(issue)
      return message.charAt(0).toLowerCase() + message.slice(1)
    }
  }
}

const readableType = (expected: string): string => {
  switch (expected) {
    case "string":
      return "a string"
    case "number":
      return "a number"
    case "boolean":
      return "true or false"
    case "array":
    case "ReadonlyArray<unknown>":
      return "a list"
    case "object":
    case "{ readonly [x: string]: unknown }":
      return "a table"
    default:
      return expected
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1({ leafHook: leafMessage })

/** Formats that follow Debezium, whose connector skips truncates unless told not to (`skipped.operations=t`). */
const debeziumFormats: ReadonlySet<string> = new Set(["debezium", "avro"])

/**
 * What needs the file's location, and the defaults that depend on other keys:
 * the dead-letter topic's (the stream's name) and `operations` of a Debezium
 * format left unset (no truncate, as Debezium's default).
 */
const settingsFromFile = (file: OutboxxFile, configPath: string, raw: unknown): OutboxxSettings => ({
  ...file,
  configPath,
  state: { ...file.state, dir: Path.resolve(Path.dirname(configPath), file.state.dir) },
  streams: file.streams.map((stream, index) => {
    const rawStream = isTable(raw) && Array.isArray(raw.streams) ? raw.streams[index] : undefined
    const operationsGiven = isTable(rawStream) && rawStream.operations !== undefined
    const deadLetterTopic = deadLetterTopicOf(stream)
    if (stream.kind === "outbox") {
      // Each insert is an event; its rows are not snapshotted (they are events already delivered, or deleted).
      const topicGiven = isTable(rawStream) && rawStream.topic !== undefined
      return {
        ...stream,
        deadLetterTopic,
        topic: topicGiven ? stream.topic : defaultOutboxTopic,
        operations: new Set(["insert"] as const),
        tombstones: false,
        snapshot: false
      }
    }
    return {
      ...stream,
      deadLetterTopic,
      messagesTopic: stream.messagesTopic ?? `outboxx.messages.${stream.name}`,
      operations: !operationsGiven && debeziumFormats.has(stream.format)
        ? new Set([...stream.operations].filter((op) => op !== "truncate"))
        : stream.operations
    }
  })
})

// Issues are listed in the order their keys appear in the file (missing keys
// last within their table), which is the order a user fixes them in.
const fileOrder = (root: unknown, path: KeyPath): Array<number> => {
  const rank: Array<number> = []
  let current: unknown = root
  for (const segment of path) {
    if (typeof segment === "number") {
      rank.push(segment)
      current = Array.isArray(current) ? current[segment] : undefined
    } else if (isTable(current)) {
      const position = Object.keys(current).indexOf(String(segment))
      rank.push(position === -1 ? Number.MAX_SAFE_INTEGER : position)
      current = current[String(segment)]
    } else {
      rank.push(Number.MAX_SAFE_INTEGER)
      current = undefined
    }
  }
  return rank
}

const compareRanks = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i]
  }
  return a.length - b.length
}

/** Decodes the text of a configuration file; fails with every issue found. */
export const decodeSettings = (text: string, options: DecodeOptions): Result.Result<OutboxxSettings, ConfigError> =>
  Result.map(
    decodeToml(OutboxxFile, text, options, { postgresOverride: true, crossChecks }),
    ({ decoded, raw }) => settingsFromFile(decoded, Path.resolve(options.path), raw)
  )

/** What one kind of file adds to the common steps. */
export interface TomlDecodeSteps {
  /** OUTBOXX_POSTGRES_URL replaces `postgres.url` (pipeline files only). */
  readonly postgresOverride?: boolean
  /** Rules spanning several keys, on the raw tree. */
  readonly crossChecks?: (raw: unknown) => ReadonlyArray<{ readonly path: KeyPath; readonly message: string }>
}

/**
 * The steps every configuration file goes through (TOML parse, `${NAME}`
 * interpolation, unknown keys, Schema decode), for any file schema: the
 * pipeline file here, the cluster runner file in cluster/settings.ts.
 */
export const decodeToml = <S extends Schema.Codec<any, unknown>>(
  schema: S,
  text: string,
  options: DecodeOptions,
  steps: TomlDecodeSteps = {}
): Result.Result<{ readonly decoded: S["Type"]; readonly raw: unknown }, ConfigError> => {
  const fail = (issues: ReadonlyArray<ConfigIssue>) => Result.fail(new ConfigError({ file: options.path, issues }))

  const parsed = Toml.parse(text)
  if (Result.isFailure(parsed)) {
    const message = parsed.failure.message
    const position = /^(.*) at line (\d+), column (\d+)$/s.exec(message)
    return fail([
      position === null
        ? new ConfigIssue({ path: "", message: `invalid TOML: ${message}` })
        : new ConfigIssue({
          path: "",
          message: `invalid TOML: ${position[1]}`,
          line: Number(position[2]),
          column: Number(position[3])
        })
    ])
  }

  const problems: Array<{ readonly path: KeyPath; readonly message: string }> = []
  const override = steps.postgresOverride === true ? options.env[postgresUrlOverrideVariable] : undefined
  // The override replaces postgres.url: a `${VAR}` in the file's URL is not needed, so not required.
  const tree = override !== undefined && override !== "" && isTable(parsed.success) && isTable(parsed.success.postgres)
    ? { ...parsed.success, postgres: { ...parsed.success.postgres, url: "" } }
    : parsed.success
  const raw = interpolateTree(tree, options.env, problems)
  if (override !== undefined && override !== "" && isTable(raw)) {
    if (raw.postgres === undefined) raw.postgres = {}
    if (isTable(raw.postgres)) raw.postgres.url = override
  }
  // A value whose variable is missing is already reported; its schema complaint would be noise.
  const unresolved = new Set(problems.map((p) => formatKeyPath(p.path)))
  problems.push(...findUnknownKeys(schema.ast, raw))
  if (steps.crossChecks !== undefined) problems.push(...steps.crossChecks(raw))

  const decoded = Schema.decodeUnknownResult(schema as Schema.Codec<S["Type"], unknown>)(raw, { errors: "all", reportInput: true })
  if (Result.isFailure(decoded)) {
    for (const issue of formatter(decoded.failure.issue).issues) {
      const path = (issue.path ?? []).map((segment) => typeof segment === "object" ? segment.key : segment)
      if (unresolved.has(formatKeyPath(path))) continue
      problems.push({ path, message: issue.message === missingKey ? missingKeyMessage(path) : issue.message })
    }
  }
  if (problems.length > 0 || Result.isFailure(decoded)) {
    const ranked = problems.map((p, index) => ({ ...p, rank: [...fileOrder(raw, p.path), index] }))
    ranked.sort((a, b) => compareRanks(a.rank, b.rank))
    return fail(ranked.map((p) => issueAt(p.path, p.message)))
  }
  return Result.succeed({ decoded: decoded.success, raw })
}
