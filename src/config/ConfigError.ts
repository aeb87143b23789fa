/**
 * The one error configuration loading fails with. It carries every problem
 * found (not just the first), each at a user-facing key path; `message`
 * renders them one per line:
 *
 *   outboxx.toml: streams[1].topic: expected a topic template ..., found "..."
 *   outboxx.toml:3:8: invalid TOML: Expected a value
 *
 * The CLI maps it to exit code 2.
 */
import * as Schema from "effect/Schema"

export class ConfigIssue extends Schema.Class<ConfigIssue>("outboxx/ConfigIssue")({
  /** `streams[1].topic`, `kafka.brokers[0]`; "" when the problem is the whole file. */
  path: Schema.String,
  message: Schema.String,
  /** For TOML syntax errors. */
  line: Schema.optionalKey(Schema.Number),
  column: Schema.optionalKey(Schema.Number)
}) {}

export const renderIssue = (file: string, issue: ConfigIssue): string => {
  const location = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`
  return issue.path === "" ? `${location}: ${issue.message}` : `${location}: ${issue.path}: ${issue.message}`
}

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  /** The configuration file as the user named it. */
  file: Schema.String,
  issues: Schema.Array(ConfigIssue)
}) {
  override get message(): string {
    return this.issues.map((issue) => renderIssue(this.file, issue)).join("\n")
  }
}
