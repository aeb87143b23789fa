/**
 * Rules that span several keys, checked on the raw (interpolated) tree rather
 * than inside the schema: a schema struct check runs only when every field of
 * the struct decoded, and users should see these problems alongside the others.
 * Values of the wrong type are skipped here; the schema reports them.
 */
import type { KeyPath } from "./keyPath.js"
import type { TableRef } from "./model.js"
import { formatTable, parseTableName, sameTable } from "./tableName.js"
import { checkTopicName, checkTopicTemplate, deadLetterTopicOf, OUTBOX_LANE, renderTopic } from "./topic.js"

export interface CrossCheckIssue {
  readonly path: KeyPath
  readonly message: string
}

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

const defaultTopic = "outboxx.{schema}.{table}"
/** Debezium EventRouter's topic: `outbox.event.<aggregatetype>`. */
export const defaultOutboxTopic = "outbox.event.{aggregatetype}"

const checkStream = (stream: Record<string, unknown>, index: number, issues: Array<CrossCheckIssue>): void => {
  const at = (...rest: KeyPath): KeyPath => ["streams", index, ...rest]
  const tables: Array<TableRef> = []
  if (Array.isArray(stream.tables)) {
    stream.tables.forEach((text: unknown, position) => {
      if (typeof text !== "string") return
      const table = parseTableName(text)
      if (typeof table === "string") return
      const first = tables.findIndex((other) => sameTable(other, table))
      if (first !== -1) {
        issues.push({
          path: at("tables", position),
          message: `expected each table once, found ${formatTable(table)} again`
        })
      }
      tables.push(table)
    })
  }
  if (stream.include_columns !== undefined && stream.exclude_columns !== undefined) {
    issues.push({ path: at("exclude_columns"), message: "expected either include_columns or exclude_columns, found both" })
  }
  if (typeof stream.dead_letter_topic === "string" && stream.dead_letter_topic !== "") {
    const problem = checkTopicName(stream.dead_letter_topic)
    if (problem !== undefined) issues.push({ path: at("dead_letter_topic"), message: `expected a valid Kafka topic name, found ${problem}` })
  } else if (stream.on_error === "dead_letter" && typeof stream.name === "string") {
    // The default, outboxx.dead_letter.<stream>: a long stream name can make it too long.
    const problem = checkTopicName(deadLetterTopicOf({ name: stream.name }))
    if (problem !== undefined) {
      issues.push({ path: at("dead_letter_topic"), message: `expected a valid Kafka topic name (the default is too long), found ${problem}` })
    }
  }
  const outbox = stream.kind === "outbox"
  const template = stream.topic === undefined ? (outbox ? defaultOutboxTopic : defaultTopic) : stream.topic
  const name = stream.name
  // The schema checked the template's syntax; which placeholders are known depends on the kind.
  if (typeof template === "string" && !outbox && checkTopicTemplate(template, "columns").length === 0) {
    const problems = checkTopicTemplate(template)
    if (problems.length > 0) {
      issues.push({
        path: at("topic"),
        message: `expected a topic template using {schema}, {table} and {stream}, found ${JSON.stringify(template)} with ${problems.join(" and ")}`
      })
    }
  }
  if (outbox) {
    // An outbox table's rows are events: each insert is one; nothing else of a change stream applies.
    for (
      const key of ["operations", "format", "key", "include_columns", "exclude_columns", "tombstones", "snapshot", "transaction_topic", "messages", "messages_topic"]
    ) {
      if (stream[key] !== undefined) {
        issues.push({
          path: at(key),
          message: `expected no ${key} in an outbox stream (kind = "outbox"): each insert into the outbox table is one event, ` +
            `built from the columns named in [streams.outbox]; updates, deletes and existing rows are not events`
        })
      }
    }
  } else if (stream.format === "avro" || stream.format === "cloudevents") {
    for (const key of stream.format === "avro" ? ["transaction_topic", "messages"] : ["messages"]) {
      if (stream[key] === undefined) continue
      issues.push({
        path: at(key),
        message: `expected no ${key} with format "${stream.format}" (${
          key === "messages" ? "message events are written by the formats outboxx and debezium" : "transaction metadata is written by the formats outboxx, cloudevents and debezium"
        })`
      })
    }
  }
  if (!outbox && stream.outbox !== undefined) {
    issues.push({ path: at("outbox"), message: `expected [streams.outbox] only with kind = "outbox"` })
  }
  if (typeof template === "string" && typeof name === "string" && checkTopicTemplate(template).length === 0) {
    for (const table of tables) {
      const problem = checkTopicName(renderTopic(template, { schema: table.schema, table: table.name, stream: name }))
      if (problem !== undefined) {
        issues.push({
          path: at("topic"),
          message: `expected a valid Kafka topic name for table ${formatTable(table)}, found ${problem}`
        })
        break
      }
    }
  }
}

export const crossChecks = (root: unknown): Array<CrossCheckIssue> => {
  const issues: Array<CrossCheckIssue> = []
  if (!isTable(root) || !Array.isArray(root.streams)) return issues
  const firstIndexOfName = new Map<string, number>()
  root.streams.forEach((stream: unknown, index) => {
    if (!isTable(stream)) return
    checkStream(stream, index, issues)
    if (stream.format === "avro" && !(isTable(root.kafka) && root.kafka.schema_registry !== undefined)) {
      issues.push({
        path: ["streams", index, "format"],
        message: `format "avro" needs a [kafka.schema_registry] section with the registry's url (its schemas are registered there)`
      })
    }
    if (typeof stream.name !== "string") return
    if (stream.name === OUTBOX_LANE && root.outbox !== undefined) {
      issues.push({
        path: ["streams", index, "name"],
        message: `expected a stream name other than "${OUTBOX_LANE}" with an [outbox] section (the outbox's delivery, metrics and /status go by that name)`
      })
    }
    const first = firstIndexOfName.get(stream.name)
    if (first === undefined) firstIndexOfName.set(stream.name, index)
    else {
      issues.push({
        path: ["streams", index, "name"],
        message: `expected a unique stream name, found ${JSON.stringify(stream.name)} again (also streams[${first}].name)`
      })
    }
  })
  return issues
}
