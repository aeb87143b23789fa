/**
 * Topic templates: `{schema}`, `{table}` and `{stream}` are replaced by the
 * table's schema, the table's name and the stream's name. Literal braces are
 * not allowed (Kafka topic names cannot contain them anyway).
 */
import type { OutboxxSettings } from "./model.js"

export const topicPlaceholders = ["schema", "table", "stream"] as const
export type TopicPlaceholder = typeof topicPlaceholders[number]

export const maxTopicLength = 249
const legalTopic = /^[A-Za-z0-9._-]+$/

export interface TopicContext {
  readonly schema: string
  readonly table: string
  readonly stream: string
}

export const renderTopic = (template: string, context: TopicContext): string =>
  template.replace(/\{(schema|table|stream)\}/g, (_, name: TopicPlaceholder) => context[name])

/** A column placeholder of an outbox stream's template: a column name as PostgreSQL folds an unquoted one. */
const columnPlaceholder = /^[a-z_][a-z0-9_$]*$/

/**
 * Problems with the template itself (before any table is substituted), as
 * messages. `placeholders`: "known" allows `{schema}`, `{table}` and
 * `{stream}` only; "columns" also column names (an outbox stream's template).
 */
export const checkTopicTemplate = (template: string, placeholders: "known" | "columns" = "known"): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const pattern = /\{([^{}]*)\}/g
  for (const match of template.matchAll(pattern)) {
    const name = match[1]!
    if ((topicPlaceholders as ReadonlyArray<string>).includes(name)) continue
    if (placeholders === "columns" && columnPlaceholder.test(name)) continue
    problems.push(
      placeholders === "columns"
        ? `placeholder {${name}}, which is neither {schema}, {table}, {stream} nor a column name`
        : `unknown placeholder {${name}} (known: {schema}, {table}, {stream}; column names only in an outbox stream)`
    )
  }
  const literal = template.replace(pattern, "")
  if (/[{}]/.test(literal)) problems.push("unbalanced { or }")
  else if (literal !== "" && !legalTopic.test(literal)) {
    problems.push(`characters other than letters, digits, ".", "_" and "-" (Kafka topic name rules)`)
  }
  if (template === "") problems.push("an empty template")
  return problems
}

/** A stream's dead-letter topic: `dead_letter_topic`, else `outboxx.dead_letter.<stream name>`. */
export const deadLetterTopicOf = (stream: { readonly name: string; readonly deadLetterTopic?: string | undefined }): string =>
  stream.deadLetterTopic ?? `outboxx.dead_letter.${stream.name}`

/** The name the WAL-message outbox goes by where streams have theirs (delivery, metrics, dead letters). */
export const OUTBOX_LANE = "outbox"

export const isTopicGlob = (pattern: string): boolean => /[*?]/.test(pattern)

/**
 * Whether a name is one of `patterns`: names or globs, `*` any run of
 * characters, `?` one, everything else literal (topics, message prefixes).
 */
export const globMatcher = (patterns: ReadonlyArray<string>): ((name: string) => boolean) => {
  if (patterns.length === 0) return () => false
  const source = patterns.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, (c) => c === "*" ? "[^]*" : c === "?" ? "[^]" : `\\${c}`)).join("|")
  const regex = new RegExp(`^(?:${source})$`)
  return (name) => regex.test(name)
}

/** Whether `topic` is one of `patterns` (`[outbox] topics`). */
export const topicMatcher = globMatcher

/** Why a rendered topic name is not acceptable to Kafka, or undefined when it is fine. */
export const checkTopicName = (topic: string): string | undefined => {
  if (topic.length === 0) return "an empty topic name"
  if (topic.length > maxTopicLength) return `a topic name of ${topic.length} characters (Kafka allows ${maxTopicLength})`
  if (topic === "." || topic === "..") return `the reserved topic name "${topic}"`
  if (!legalTopic.test(topic)) return `the topic name "${topic}", which has characters Kafka does not allow`
  return undefined
}

/**
 * Every topic the configuration writes to (each table's rendered topic, and
 * the dead-letter topics of streams with `on_error = "dead_letter"`), with the
 * streams that use it, in config order. The one list: the sink prepares these
 * topics, and `check` verifies them.
 */
export const configuredTopics = (
  settings: Pick<OutboxxSettings, "streams" | "outbox">
): ReadonlyMap<string, ReadonlyArray<string>> => {
  const topics = new Map<string, Array<string>>()
  const use = (topic: string, stream: string) => {
    const users = topics.get(topic) ?? []
    if (!users.includes(stream)) users.push(stream)
    topics.set(topic, users)
  }
  for (const stream of settings.streams) {
    for (const table of stream.tables) {
      const topic = renderTopic(stream.topic, { schema: table.schema, table: table.name, stream: stream.name })
      // An outbox stream's `{column}` topics are named by its rows, and prepared when first named.
      if (!topic.includes("{")) use(topic, stream.name)
    }
    if (stream.transactionTopic !== undefined) use(stream.transactionTopic, stream.name)
    if (stream.messages.length > 0 && stream.messagesTopic !== undefined) use(stream.messagesTopic, stream.name)
    // An outbox stream dead-letters rows it cannot route whatever its on_error.
    if ((stream.onError === "dead_letter" || stream.kind === "outbox") && stream.deadLetterTopic !== undefined) {
      use(stream.deadLetterTopic, stream.name)
    }
  }
  // The outbox's destinations that are plain names; those matched by a glob are prepared when first named.
  if (settings.outbox !== undefined) {
    for (const topic of settings.outbox.topics) if (!isTopicGlob(topic)) use(topic, OUTBOX_LANE)
    use(settings.outbox.deadLetterTopic, OUTBOX_LANE)
  }
  return topics
}
