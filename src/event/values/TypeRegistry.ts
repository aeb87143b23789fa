/**
 * Type OID -> JsonWriter, for built-in types from the start and for user
 * types (domains, enums, composites, ranges, arrays of any of them) once
 * resolved from pg_type. The pipeline calls `ensure` with a Relation
 * message's column type OIDs before converting that relation's rows, then
 * uses `writerFor` per column (once per relation, not per row).
 */
import { arrayWriter } from "./arrayText.js"
import { builtinWriters } from "./builtinTypes.js"
import { type JsonWriter, writeString } from "./writers.js"

/** Runs one parameterised query and returns its rows: `(sql, params) => client.query(sql, params).then((r) => r.rows)`. */
export type TypeQuery = (sql: string, params: ReadonlyArray<unknown>) => Promise<ReadonlyArray<Record<string, unknown>>>

/** One pg_type row, as far as conversion cares. */
export interface PgTypeInfo {
  readonly oid: number
  readonly name: string
  readonly schema: string
  /** b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  readonly type: string
  /** Domains: the type they are over; else 0. */
  readonly baseType: number
  /** Arrays: the element type; else 0 (or a fixed-length base type's element, e.g. point). */
  readonly element: number
  readonly delimiter: string
  /** `A` for arrays. */
  readonly category: string
  /** Enums: the labels in their sort order (the debezium format's `allowed`); else empty. */
  readonly labels: ReadonlyArray<string>
}

const typeSql =
  "SELECT t.oid::text AS oid, t.typname::text AS name, t.typnamespace::regnamespace::text AS schema, " +
  "t.typtype::text AS type, t.typbasetype::text AS base_type, t.typelem::text AS element, " +
  "t.typdelim::text AS delimiter, t.typcategory::text AS category, " +
  "CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e " +
  "WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels " +
  "FROM pg_catalog.pg_type t WHERE t.oid = ANY($1::oid[])"

const toInfo = (row: Record<string, unknown>): PgTypeInfo => ({
  oid: Number(row["oid"]),
  name: String(row["name"]),
  schema: String(row["schema"]),
  type: String(row["type"]),
  baseType: Number(row["base_type"]),
  element: Number(row["element"]),
  delimiter: String(row["delimiter"]),
  category: String(row["category"]),
  labels: Array.isArray(row["labels"]) ? (row["labels"] as ReadonlyArray<unknown>).map(String) : []
})

/** The types an array's element or a domain's base points to. */
const dependency = (info: PgTypeInfo): number =>
  info.type === "d" ? info.baseType : isArray(info) ? info.element : 0

const isArray = (info: PgTypeInfo): boolean => info.category === "A" && info.element !== 0

/**
 * Loads the pg_type rows of `oids` and, transitively, of the domains' base
 * types and the arrays' element types, skipping the OIDs `known(oid)` says
 * are already covered. One query per level of nesting.
 */
export const resolveTypes = async (
  query: TypeQuery,
  oids: Iterable<number>,
  known: (oid: number) => boolean = () => false
): Promise<Map<number, PgTypeInfo>> => {
  const found = new Map<number, PgTypeInfo>()
  let pending = [...new Set(oids)].filter((oid) => !known(oid))
  while (pending.length > 0) {
    const rows = await query(typeSql, [pending])
    const next = new Set<number>()
    for (const row of rows) {
      const info = toInfo(row)
      found.set(info.oid, info)
      const dep = dependency(info)
      if (dep !== 0 && !found.has(dep) && !known(dep)) next.add(dep)
    }
    // OIDs pg_type does not have (a type dropped meanwhile) are not asked for again.
    for (const oid of pending) next.delete(oid)
    pending = [...next]
  }
  return found
}

export class TypeRegistry {
  private readonly writers: Map<number, JsonWriter> = builtinWriters()
  private readonly infos = new Map<number, PgTypeInfo>()

  /** The writer for `oid`, or undefined when it is a user type not resolved yet. */
  writerFor(oid: number): JsonWriter | undefined {
    return this.writers.get(oid)
  }

  /** The writer for `oid`, or the text-as-string default when it is unknown. */
  writerOrString(oid: number): JsonWriter {
    return this.writers.get(oid) ?? writeString
  }

  /** What pg_type said about a resolved user type (for logs and the debezium schema). */
  typeInfo(oid: number): PgTypeInfo | undefined {
    return this.infos.get(oid)
  }

  /**
   * Makes `writerFor` answer for every OID in `oids`: user types are looked up
   * in pg_type; an OID pg_type does not know gets the text-as-string writer.
   */
  async ensure(oids: Iterable<number>, query: TypeQuery): Promise<void> {
    const missing = [...oids].filter((oid) => !this.writers.has(oid))
    if (missing.length === 0) return
    const found = await resolveTypes(query, missing, (oid) => this.writers.has(oid))
    for (const [oid, info] of found) this.infos.set(oid, info)
    for (const oid of found.keys()) this.build(oid, new Set())
    for (const oid of missing) if (!this.writers.has(oid)) this.writers.set(oid, writeString)
  }

  /** Registers writers built from pg_type rows directly (tests, or a caller that has the rows). */
  register(infos: Iterable<PgTypeInfo>): void {
    const added: Array<number> = []
    for (const info of infos) {
      this.infos.set(info.oid, info)
      added.push(info.oid)
    }
    for (const oid of added) this.build(oid, new Set())
  }

  private build(oid: number, visiting: Set<number>): JsonWriter {
    const existing = this.writers.get(oid)
    if (existing !== undefined) return existing
    const info = this.infos.get(oid)
    // Unknown, or a cycle pg_type cannot really have: the text form is always safe.
    if (info === undefined || visiting.has(oid)) return writeString
    visiting.add(oid)
    let writer: JsonWriter
    if (info.type === "d") {
      // A domain converts like its base type (a domain over int4 is a number).
      writer = this.build(info.baseType, visiting)
    } else if (isArray(info)) {
      writer = userArrayWriter(this.build(info.element, visiting), info.delimiter)
    } else {
      // Enums, composites, ranges, multiranges, other base types (citext, hstore, ...).
      writer = writeString
    }
    this.writers.set(oid, writer)
    return writer
  }
}

/**
 * A user type with category A and an element might still not print as `{...}`
 * (vector types like int2vector do not); those keep their text as a string.
 */
const userArrayWriter = (element: JsonWriter, delimiter: string): JsonWriter => {
  const array = arrayWriter(element, delimiter.length === 1 ? delimiter : ",")
  return (text) => {
    const c = text.charCodeAt(0)
    return c === 0x7b || c === 0x5b ? array(text) : writeString(text)
  }
}
