/**
 * SQL quoting. Replication connections accept only the simple query protocol
 * (no bind parameters), so literals and identifiers are escaped here.
 */

/** `"name"` with embedded quotes doubled; always quoted so mixed case survives. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`

/** `"schema"."table"` */
export const quoteTable = (table: { readonly schema: string; readonly name: string }): string =>
  `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`

/**
 * A string literal. Uses the E'' form only when a backslash is present so the
 * result is correct whatever standard_conforming_strings says.
 */
export const quoteLiteral = (value: string): string => {
  if (value.includes("\0")) throw new RangeError("a SQL literal cannot contain NUL")
  const body = value.replaceAll("'", "''")
  return body.includes("\\") ? `E'${body.replaceAll("\\", "\\\\")}'` : `'${body}'`
}
