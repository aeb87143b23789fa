/**
 * Table names in the configuration.
 *
 * - `orders` means `public.orders`; `sales.orders` is schema `sales`, table `orders`.
 * - Names are case-sensitive exactly as written (no SQL case folding):
 *   `MySchema.Orders` is schema `MySchema`, table `Orders`.
 * - A part containing a dot, a double quote or whitespace is written in double
 *   quotes, with `""` for a quote inside: `"my.schema"."odd ""name"""`.
 */
/** A table a stream captures; a bare name in the config means `public.<name>`. */
export interface TableRef {
  readonly schema: string
  readonly name: string
}

export const defaultSchema = "public"

export const tableNameHint = `a table name like "orders" or "schema.table" (quote parts containing dots: "\\"my.schema\\".orders")`

/** The parsed table, or a message saying what is wrong with the text. */
export const parseTableName = (text: string): TableRef | string => {
  const parts: Array<string> = []
  let i = 0
  while (true) {
    let part = ""
    if (text[i] === "\"") {
      i++
      let closed = false
      while (i < text.length) {
        if (text[i] === "\"") {
          if (text[i + 1] === "\"") {
            part += "\""
            i += 2
            continue
          }
          closed = true
          i++
          break
        }
        part += text[i++]
      }
      if (!closed) return "unterminated quoted name"
      if (part === "") return "empty quoted name"
    } else {
      while (i < text.length && text[i] !== ".") {
        if (text[i] === "\"") return "a double quote may only start a quoted part"
        if (/\s/.test(text[i])) return "whitespace in an unquoted name (quote the name)"
        part += text[i++]
      }
      if (part === "") return "empty name part"
    }
    parts.push(part)
    if (i === text.length) break
    if (text[i] !== ".") return "expected a dot after a quoted name"
    i++
    if (i === text.length) return "empty name part"
  }
  if (parts.length > 2) return "too many dots (quote parts containing dots)"
  return parts.length === 1 ? { schema: defaultSchema, name: parts[0] } : { schema: parts[0], name: parts[1] }
}

const needsQuotes = (part: string): boolean => part === "" || /[."\s]/.test(part)

const formatPart = (part: string): string => needsQuotes(part) ? `"${part.replace(/"/g, "\"\"")}"` : part

/** `schema.table`, quoting parts when needed; `parseTableName(formatTable(t))` gives `t` back. */
export const formatTable = (table: TableRef): string => `${formatPart(table.schema)}.${formatPart(table.name)}`

export const sameTable = (a: TableRef, b: TableRef): boolean => a.schema === b.schema && a.name === b.name
