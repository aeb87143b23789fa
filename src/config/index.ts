/** The configuration module's public surface. */
export * from "./model.js"
export { ConfigError, ConfigIssue, renderIssue } from "./ConfigError.js"
export { decodeSettings, type DecodeOptions, postgresUrlOverrideVariable } from "./decode.js"
export { formatDuration, parseDuration } from "./duration.js"
export type { Environment } from "./interpolate.js"
export { configPathVariable, defaultConfigPath, loadSettings, resolveConfigPath, Settings } from "./Settings.js"
export { defaultSchema, formatTable, parseTableName, sameTable } from "./tableName.js"
export { checkTopicName, renderTopic, type TopicContext } from "./topic.js"
