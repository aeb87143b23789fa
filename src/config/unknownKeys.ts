/**
 * Unknown keys, found by walking the parsed TOML alongside the file schema.
 * Schema decoding ignores excess keys; this pass reports each one with the
 * closest known key at that level, so `statu_interval` says "did you mean
 * `status_interval`?".
 */
import * as SchemaAST from "effect/SchemaAST"
import { suggestKey } from "./didYouMean.js"
import type { KeyPath } from "./keyPath.js"

export interface UnknownKeyIssue {
  readonly path: KeyPath
  readonly message: string
}

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)

/** The struct (object) AST behind a field, looking through arrays' elements is done by the caller. */
const objectsOf = (ast: SchemaAST.AST): SchemaAST.Objects | undefined => {
  if (SchemaAST.isObjects(ast)) return ast
  if (SchemaAST.isUnion(ast)) {
    for (const member of ast.types) {
      const found = objectsOf(member)
      if (found !== undefined) return found
    }
  }
  return undefined
}

const elementOf = (ast: SchemaAST.AST): SchemaAST.AST | undefined => {
  if (SchemaAST.isArrays(ast)) return ast.rest[0]
  if (SchemaAST.isUnion(ast)) {
    for (const member of ast.types) {
      const found = elementOf(member)
      if (found !== undefined) return found
    }
  }
  return undefined
}

const walk = (ast: SchemaAST.AST, value: unknown, path: KeyPath, issues: Array<UnknownKeyIssue>): void => {
  if (Array.isArray(value)) {
    const element = elementOf(ast)
    if (element !== undefined) value.forEach((item, index) => walk(element, item, [...path, index], issues))
    return
  }
  if (!isTable(value)) return
  const objects = objectsOf(ast)
  if (objects === undefined) return
  const fields = new Map(objects.propertySignatures.map((p) => [String(p.name), p.type]))
  const known = [...fields.keys()]
  for (const [key, item] of Object.entries(value)) {
    const field = fields.get(key)
    if (field === undefined) {
      const suggestion = suggestKey(key, known)
      issues.push({
        path: [...path, key],
        message: suggestion === undefined
          ? `unknown key \`${key}\`; expected one of ${known.map((k) => `\`${k}\``).join(", ")}`
          : `unknown key \`${key}\`; did you mean \`${suggestion}\`?`
      })
    } else {
      walk(field, item, [...path, key], issues)
    }
  }
}

export const findUnknownKeys = (schemaAst: SchemaAST.AST, value: unknown): Array<UnknownKeyIssue> => {
  const issues: Array<UnknownKeyIssue> = []
  walk(SchemaAST.toEncoded(schemaAst), value, [], issues)
  return issues
}
