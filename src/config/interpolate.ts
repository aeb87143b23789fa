/**
 * `${NAME}` in any string value of the parsed file is replaced by the
 * environment variable NAME. `$${` stands for a literal `${`. A variable that
 * is not set is an error (an empty one is fine): silently using "" for a
 * mistyped variable would connect somewhere unintended.
 */
import type { KeyPath } from "./keyPath.js"

export type Environment = Readonly<Record<string, string | undefined>>

export interface InterpolationIssue {
  readonly path: KeyPath
  readonly message: string
}

const reference = /\$\$\{|\$\{([^}]*)(\}?)/g
const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/

const interpolateString = (
  text: string,
  path: KeyPath,
  env: Environment,
  issues: Array<InterpolationIssue>
): string =>
  text.replace(reference, (whole, name: string | undefined, closing: string | undefined) => {
    if (whole === "$${") return "${"
    if (closing !== "}") {
      issues.push({ path, message: "unterminated `${` (write `$${` for a literal `${`)" })
      return whole
    }
    if (name === undefined || !variableName.test(name)) {
      issues.push({ path, message: `\`\${${name ?? ""}}\` is not a valid variable reference (expected \${NAME} with letters, digits and _)` })
      return whole
    }
    const value = env[name]
    if (value === undefined) {
      issues.push({ path, message: `environment variable ${name} is not set (referenced as \${${name}})` })
      return whole
    }
    return value
  })

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

/** A copy of the parsed tree with every string value interpolated. */
export const interpolateTree = (
  value: unknown,
  env: Environment,
  issues: Array<InterpolationIssue>,
  path: KeyPath = []
): unknown => {
  if (typeof value === "string") return interpolateString(value, path, env, issues)
  if (Array.isArray(value)) return value.map((item, index) => interpolateTree(item, env, issues, [...path, index]))
  if (isTable(value)) {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) out[key] = interpolateTree(item, env, issues, [...path, key])
    return out
  }
  return value
}
