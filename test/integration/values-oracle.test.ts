/**
 * Oracle for value conversion: rows holding every built-in type go through
 * the real pgoutput plugin (pg_logical_slot_get_binary_changes, under the
 * replication session's settings) and the project's pgoutput decoder, are
 * converted by our writers (user types
 * resolved from a real pg_type), and must equal PostgreSQL's own
 * `to_jsonb(row)` after the normalisations documented in docs/formats.md
 * ("Normalisations"). Anything else is a failure.
 */
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createPgoutputDecoder, isPgoutputDecodeError } from "../../src/decode/decoder.js"
import type { TupleValue } from "../../src/decode/messages.js"
import {
  buildRowJson,
  builtinArrayElements,
  builtinWriters,
  keyPrefixes,
  TypeRegistry
} from "../../src/event/values/index.js"
import type { TypeQuery } from "../../src/event/values/index.js"
import { createTestDatabase } from "../support/servers.js"

const sessionSettings = [
  "SET DateStyle = ISO",
  "SET TimeZone = 'UTC'",
  "SET extra_float_digits = 3",
  "SET bytea_output = hex",
  "SET IntervalStyle = postgres"
]

const schemaSql = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy "quoted"');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN label AS text;
CREATE TYPE pair AS (a int4, b text);
CREATE TABLE everything (
  id int4 PRIMARY KEY,
  c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid, c_numeric numeric, c_float4 float4, c_float8 float8,
  c_bool bool, c_text text, c_varchar varchar(10), c_char char(3), c_name name, c_bytea bytea,
  c_date date, c_timestamp timestamp, c_timestamptz timestamptz, c_time time, c_timetz timetz,
  c_interval interval, c_uuid uuid, c_json json, c_jsonb jsonb, c_inet inet, c_cidr cidr,
  c_macaddr macaddr, c_macaddr8 macaddr8, c_money money, c_bit bit(3), c_varbit varbit, c_tsvector tsvector,
  c_int4range int4range, c_tstzrange tstzrange, c_int8multirange int8multirange, c_point point,
  c_box box, c_xml xml, c_pg_lsn pg_lsn,
  a_int4 int4[], a_int8 int8[], a_text text[], a_jsonb jsonb[], a_timestamptz timestamptz[],
  a_int4_2d int4[][], a_bytea bytea[], a_numeric numeric[], a_float8 float8[], a_bool bool[],
  a_date date[], a_box box[], a_point point[],
  c_mood mood, c_posint posint, c_label label, c_pair pair,
  a_mood mood[], a_posint posint[], a_pair pair[]
);
CREATE PUBLICATION values_oracle FOR TABLE everything;
`

const rowsSql = `
INSERT INTO everything VALUES (
  1, 1, 42, 1234567890123, 12345, 10.50, 1.5, 0.1,
  true, 'hello', 'short', 'ab', 'a_name', '\\x00ff10',
  '2026-11-23', '2026-11-23 20:00:00.123456', '2026-11-23 20:00:00.123456+00', '20:00:00.5', '20:00:00+02',
  '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"b": [1, 2.50, {"c": null}], "a": "x"}', '{"é": "日本", "n": 1.50, "nested": {"t": true}}',
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', 1234.56, B'101', B'10101',
  'the quick brown fox', '[1,10)', '["2026-01-01 00:00:00+00","2026-02-01 00:00:00+00")', '{[1,3), [5,7)}',
  '(1.5,-2)', '((0,0),(1,1))', '<a href="x">y</a>', '16/B374D848',
  '{1,2,NULL}', '{9223372036854775807,-9223372036854775808}', '{"a b","c\\"d",NULL,"NULL","back\\\\slash",""}',
  ARRAY['{"a": 1}', '[1, "two"]', NULL]::jsonb[], '{"2026-11-23 20:00:00+00",infinity}',
  '{{1,2},{3,4}}', '{"\\\\x00ff","\\\\x"}', '{10.50,NaN,-0.000001}', '{1.5,NaN,-Infinity}', '{t,f,NULL}',
  '{2026-11-23,infinity}', '{((1,1),(0,0));((3,3),(2,2))}', '{"(1,2)","(3,4)"}',
  'happy "quoted"', 7, 'a label', '(1,"a b")',
  '{sad,"happy \\"quoted\\"",NULL}', '{1,2}', ARRAY[ROW(1, 'x'), NULL, ROW(NULL, 'q"uote')]::pair[]
), (
  2, -32768, 2147483647, 9223372036854775807, 4294967295, '-123456789012345678901234567890.000000000000000000001',
  'NaN', 'Infinity',
  false, E'quote " backslash \\\\ newline \\n tab \\t bell \\x07 sep \\u2028 emoji 😀 cjk 日本語', 'éééééééééé',
  'é', repeat('n', 63), '\\x',
  '0044-03-15 BC', '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+00 BC', '24:00:00', '00:00:00-05:30',
  '-178000000 years', '00000000-0000-0000-0000-000000000000',
  '[]', '"just a string"',
  '::1', '::/0', 'ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff:ff:ff', -92233720368547758.08, B'000', B'',
  $$'it''s' 'a':1A,2B$$, 'empty', '(,)', '{}',
  '(-0,1e+300)', '((1,1),(1,1))', '<r/>', '0/0',
  '{}', '{}', '{}', '{}', '{}', '[0:1][1:2]={{1,2},{3,4}}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
  'sad', 2147483647, '', '(,)',
  '{}', '[5:5]={9}', '{}'
), (
  3, NULL, NULL, NULL, NULL, 'Infinity', '-Infinity', '-Infinity',
  NULL, '', NULL, NULL, NULL, NULL,
  'infinity', 'infinity', '-infinity', NULL, NULL, NULL, NULL,
  'null', 'null', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '{NULL}', NULL, '{NULL,null,Null}', NULL, '{-infinity}', '{{NULL,NULL}}', NULL, '{Infinity,-Infinity}', '{-0,1e-320}', NULL,
  '{-infinity,"0001-01-01 BC"}', NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL
), (
  4, NULL, NULL, NULL, NULL, '0', '-0', '-0',
  NULL, NULL, NULL, NULL, NULL, NULL,
  '-infinity', '-infinity', 'infinity', '23:59:59.999999', '23:59:59.999999+14:59', '-1 days +00:00:00.000001', NULL,
  '  {"spaces"  :  [ 1 ,2 ] }  ', '{"a": {"b": {"c": [[]]}}}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, '{"1999-01-08 04:05:06.000001+00","0044-03-15 12:00:00+00 BC"}', NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL
);
`

interface Column { readonly name: string; readonly typeOid: number }

/** The Relation and Insert messages of pg_logical_slot_get_binary_changes, through the project's decoder. */
const readInserts = (changes: ReadonlyArray<{ lsn: string; data: Buffer }>) => {
  const decoder = createPgoutputDecoder(1)
  let columns: ReadonlyArray<Column> = []
  const rows: Array<ReadonlyArray<TupleValue>> = []
  for (const change of changes) {
    const message = decoder.decode(change.data, 0, change.data.length, 0)
    if (isPgoutputDecodeError(message)) throw message
    if (message.tag === "Relation") columns = message.columns
    else if (message.tag === "Insert") rows.push(message.newTuple.values())
  }
  return { columns, rows }
}

/** A JSON value with every number kept as its source text, so int8 and numeric are compared exactly. */
type Exact = null | boolean | string | { readonly number: string } | ReadonlyArray<Exact> | { readonly [key: string]: Exact }

const parseExact = (text: string): Exact =>
  JSON.parse(text, ((_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" ? { number: context?.source ?? String(value) } : value
  ) as (this: unknown, key: string, value: unknown) => unknown) as Exact

/**
 * Numbers compared by what they denote: integers by their digits (exact past
 * 2^53), others by their double (jsonb re-prints a float's 1e-05 as 0.00001,
 * and has no negative zero: our -0 is its 0).
 */
const canonical = (value: Exact): Exact => {
  if (Array.isArray(value)) return value.map(canonical)
  if (isNumber(value)) {
    const source = value.number
    return { number: source === "-0" ? "0" : /^-?\d+$/.test(source) ? source : String(Number(source) + 0) }
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, canonical(item as Exact)]))
  }
  return value
}

const isNumber = (value: Exact): value is { readonly number: string } =>
  typeof value === "object" && value !== null && !Array.isArray(value) && "number" in value

/** Applies `f` to every leaf of a (possibly nested) array. */
const leaves = (value: Exact, f: (leaf: Exact) => Exact): Exact =>
  Array.isArray(value) ? value.map((item: Exact) => leaves(item, f)) : value === null ? null : f(value)

/** The documented normalisations, from to_jsonb's value to ours (docs/formats.md). */
const normalisations: Record<string, (leaf: Exact) => Exact> = {
  // numeric: an exact string instead of a JSON number.
  numeric: (leaf) => (isNumber(leaf) ? leaf.number : leaf),
  // timestamptz: `Z` instead of `+00:00`.
  timestamptz: (leaf) => (typeof leaf === "string" ? leaf.replace(/\+00:00( BC)?$/, "Z$1") : leaf),
  // bytea: base64 instead of `\x` hex.
  bytea: (leaf) => (typeof leaf === "string" ? Buffer.from(leaf.substring(2), "hex").toString("base64") : leaf),
  // oid: a number (to_jsonb writes it as a string).
  oid: (leaf) => (typeof leaf === "string" ? { number: leaf } : leaf)
}

const normalisationFor = (typeName: string): ((leaf: Exact) => Exact) | undefined =>
  normalisations[typeName.replace(/^_/, "")]

describe("values oracle (real PostgreSQL)", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>
  let client: pg.Client
  let query: TypeQuery

  beforeAll(async () => {
    database = await createTestDatabase("values_oracle")
    client = new pg.Client({ connectionString: database.url })
    await client.connect()
    query = async (sql, params) => (await client.query(sql, [...params])).rows
    for (const statement of sessionSettings) await client.query(statement)
    await client.query(schemaSql)
    // A temporary slot goes away with this session, whatever happens.
    await client.query("SELECT pg_create_logical_replication_slot('values_oracle', 'pgoutput', true)")
    // The dev cluster runs with synchronous_commit=off; the slot only decodes
    // up to the flushed WAL, so make this session's commits flush at once.
    await client.query("SET synchronous_commit = on")
    await client.query(rowsSql)
  })

  afterAll(async () => {
    await client?.end()
    await database?.drop()
  })

  it("pgoutput rows converted by our writers equal to_jsonb(row) after the documented normalisations", async () => {
    const changes = await client.query<{ lsn: string; data: Buffer }>(
      "SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes('values_oracle', NULL, NULL, " +
        "'proto_version', '1', 'publication_names', 'values_oracle')"
    )
    const { columns, rows } = readInserts(changes.rows)
    expect(rows).toHaveLength(4)
    expect(columns.length).toBeGreaterThan(50)

    const registry = new TypeRegistry()
    await registry.ensure(columns.map((column) => column.typeOid), query)
    const writers = columns.map((column) => {
      const writer = registry.writerFor(column.typeOid)
      if (writer === undefined) throw new Error(`no writer for ${column.name}`)
      return writer
    })
    const prefixes = keyPrefixes(columns.map((column) => column.name))

    const typeNames = new Map<string, string>(
      (await client.query<{ name: string; type: string }>(
        "SELECT a.attname AS name, t.typname AS type FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid " +
          "WHERE a.attrelid = 'everything'::regclass AND a.attnum > 0"
      )).rows.map((row) => [row.name, row.type])
    )
    // Composites (and arrays of them) are written as their text form; to_jsonb nests objects.
    const expected = await client.query<{ id: number; row: string }>(
      "SELECT id, (to_jsonb(t) || jsonb_build_object('c_pair', c_pair::text, 'a_pair', a_pair::text[]))::text AS row " +
        "FROM everything t ORDER BY id"
    )

    const byId = new Map(rows.map((row) => [Number(row[0]), row]))
    for (const { id, row } of expected.rows) {
      const values = byId.get(id)!
      const ours = canonical(parseExact(buildRowJson(prefixes, writers, values))) as Record<string, Exact>
      const theirs = parseExact(row) as Record<string, Exact>
      const normalised: Record<string, Exact> = {}
      for (const [name, value] of Object.entries(theirs)) {
        const normalise = normalisationFor(typeNames.get(name) ?? "")
        normalised[name] = canonical(normalise === undefined ? value : leaves(value, normalise))
      }
      for (const column of columns) {
        expect.soft(ours[column.name], `row ${id} column ${column.name}`).toEqual(normalised[column.name])
      }
      expect(Object.keys(ours).sort()).toEqual(Object.keys(normalised).sort())
    }
  })

  it("the built-in array table matches pg_type (element and delimiter)", async () => {
    const catalog = await client.query<{ oid: number; element: number; delimiter: string }>(
      // array_out separates elements with the element type's delimiter.
      "SELECT a.oid::int8::text::int AS oid, a.typelem::int8::text::int AS element, e.typdelim::text AS delimiter " +
        "FROM pg_type a JOIN pg_type e ON e.oid = a.typelem WHERE a.oid = ANY($1::oid[])",
      [builtinArrayElements.map(([array]) => array)]
    )
    const byOid = new Map(catalog.rows.map((row) => [row.oid, row]))
    for (const [array, element] of builtinArrayElements) {
      expect(byOid.get(array)?.element, `array type ${array}`).toBe(element)
      // box is the only built-in type whose array delimiter is ';'.
      expect(byOid.get(array)?.delimiter, `delimiter of ${array}`).toBe(element === 603 ? ";" : ",")
    }
  })

  it("every built-in base, range and multirange type has a built-in writer", async () => {
    const writers = builtinWriters()
    const catalog = await client.query<{ oid: number; name: string }>(
      "SELECT oid::int8::text::int AS oid, typname::text AS name FROM pg_type " +
        "WHERE oid < 10000 AND typtype IN ('b', 'r', 'm') AND typrelid = 0 " +
        // Arrays of the catalogs' row types are composites' arrays, left to the resolver.
        "AND NOT (typcategory = 'A' AND typelem IN (SELECT oid FROM pg_type WHERE typrelid <> 0))"
    )
    const missing = catalog.rows.filter((row) => !writers.has(row.oid)).map((row) => `${row.name} (${row.oid})`)
    expect(missing).toEqual([])
  })
})
