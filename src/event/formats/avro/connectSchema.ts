/**
 * Kafka Connect schema -> Avro schema, as Confluent's AvroData writes it for
 * Debezium's AvroConverter (connect.meta.data=true, enhanced schema support
 * off): int8/int16 are Avro ints marked `connect.type`, Decimal is bytes
 * with the `decimal` logical type, named Connect types keep their name,
 * version and parameters as `connect.*` properties, optional fields are
 * unions with null (null first and a null default, or the default's branch
 * first when the field has a default), structs are records named after the
 * Connect name. Names are adjusted to Avro's rules the way Debezium's
 * `schema.name.adjustment.mode=avro` does (any other character becomes `_`).
 *
 * Alongside each Avro schema comes `fix`: what turns the JSON payload value
 * the debezium format writes into the value avsc encodes (base64 bytes into
 * Buffers, "NaN" and the infinities into numbers, column names into the
 * adjusted field names). Absent when the JSON value is already right.
 */
import type { ConnectSchema } from "../debezium/types.js"

export type AvroSchema = string | Readonly<Record<string, unknown>> | ReadonlyArray<unknown>
export type Fix = (value: unknown) => unknown

export interface Converted {
  readonly avro: AvroSchema
  readonly fix: Fix | undefined
}

/** An Avro name: letters, digits and `_`, not starting with a digit. */
export const avroName = (name: string): string => {
  const clean = name.replace(/[^A-Za-z0-9_]/g, "_")
  return /^[0-9]/.test(clean) || clean === "" ? `_${clean}` : clean
}

const avroFullName = (name: string): { name: string; namespace: string | undefined } => {
  const parts = name.split(".").map(avroName)
  const last = parts.pop()!
  return { name: last, namespace: parts.length === 0 ? undefined : parts.join(".") }
}

const primitive: Readonly<Record<string, string>> = {
  int8: "int",
  int16: "int",
  int32: "int",
  int64: "long",
  float: "float",
  float32: "float",
  double: "double",
  float64: "double",
  boolean: "boolean",
  string: "string",
  bytes: "bytes"
}

const fromBase64: Fix = (value) => (typeof value === "string" ? Buffer.from(value, "base64") : value)
const toNumber: Fix = (value) => (typeof value === "string" ? Number(value) : value)

/**
 * Record names defined so far in one Avro schema: Avro allows a name to be
 * defined once; later uses (the envelope's `after` after `before`, a second
 * point column) refer to it by its full name.
 */
export class NameScope {
  private readonly defined = new Set<string>()
  has(fullName: string): boolean {
    return this.defined.has(fullName)
  }
  add(fullName: string): void {
    this.defined.add(fullName)
  }
}

/** The `connect.*` properties of a named or parameterised Connect schema, in AvroData's order. */
const connectProperties = (schema: ConnectSchema): Record<string, unknown> => {
  const props: Record<string, unknown> = {}
  if (typeof schema["doc"] === "string") props["connect.doc"] = schema["doc"]
  if (typeof schema["version"] === "number") props["connect.version"] = schema["version"]
  if (schema["parameters"] !== undefined) props["connect.parameters"] = schema["parameters"]
  if (schema["default"] !== undefined && schema["default"] !== null) props["connect.default"] = schema["default"]
  if (typeof schema["name"] === "string") props["connect.name"] = schema["name"]
  return props
}

/** The Avro JSON of a Connect default value (bytes defaults are base64 in Connect JSON, ISO-8859-1 text in Avro). */
const avroDefault = (schema: ConnectSchema, value: unknown): unknown =>
  schema["type"] === "bytes" && typeof value === "string" ? Buffer.from(value, "base64").toString("latin1") : value

/** The Avro schema (without optionality) and value fix of one Connect schema. */
const convertType = (schema: ConnectSchema, scope: NameScope): Converted => {
  const type = schema["type"] as string
  if (type === "struct") return convertStruct(schema, scope)
  if (type === "array") {
    const items = convertField(schema["items"] as ConnectSchema, scope)
    const fixItem = items.fix
    return {
      avro: { type: "array", items: items.avro },
      fix: fixItem === undefined ? undefined : (value) => Array.isArray(value) ? value.map(fixItem) : value
    }
  }
  if (type === "map") {
    // Connect maps with string keys are Avro maps (hstore.handling.mode=map); values keep their optionality.
    const values = convertField(schema["values"] as ConnectSchema, scope)
    const fixValue = values.fix
    return {
      avro: { type: "map", values: values.avro, ...connectProperties(schema) },
      fix: fixValue === undefined ? undefined : (value) => {
        if (value === null || typeof value !== "object") return value
        const record = value as Record<string, unknown>
        for (const key of Object.keys(record)) if (record[key] !== null) record[key] = fixValue(record[key])
        return record
      }
    }
  }
  const base = primitive[type]
  if (base === undefined) throw new Error(`no Avro type for the Connect type ${type}`)
  const fix = type === "bytes" ? fromBase64 : type === "float" || type === "double" ? toNumber : undefined
  if (schema["name"] === "org.apache.kafka.connect.data.Decimal") {
    const parameters = (schema["parameters"] ?? {}) as Record<string, string>
    const scale = Number(parameters["scale"] ?? 0)
    const precision = Number(parameters["connect.decimal.precision"] ?? 64)
    return {
      avro: { type: "bytes", scale, precision, ...connectProperties(schema), logicalType: "decimal" },
      fix
    }
  }
  const extra: Record<string, unknown> = type === "int8" || type === "int16" ? { "connect.type": type } : {}
  const props = { ...extra, ...connectProperties(schema) }
  return { avro: Object.keys(props).length === 0 ? base : { type: base, ...props }, fix }
}

const convertStruct = (schema: ConnectSchema, scope: NameScope): Converted => {
  const connectName = typeof schema["name"] === "string" ? schema["name"] : "io.confluent.connect.avro.ConnectDefault"
  const { name, namespace } = avroFullName(connectName)
  const fullName = namespace === undefined ? name : `${namespace}.${name}`
  const fields = (schema["fields"] ?? []) as ReadonlyArray<ConnectSchema>
  const converted = fields.map((field) => ({
    column: field["field"] as string,
    name: avroName(field["field"] as string),
    ...convertField(field, scope)
  }))
  const fix = structFix(converted)
  if (scope.has(fullName)) return { avro: fullName, fix }
  scope.add(fullName)
  return {
    avro: {
      type: "record",
      name,
      ...(namespace === undefined ? {} : { namespace }),
      fields: converted.map((f, i) => {
        const field = fields[i]!
        const optional = field["optional"] === true
        const defaultValue = field["default"]
        return {
          name: f.name,
          type: f.avro,
          ...(optional && (defaultValue === undefined || defaultValue === null)
            ? { default: null }
            : defaultValue !== undefined && defaultValue !== null
            ? { default: avroDefault(field, defaultValue) }
            : {})
        }
      }),
      ...connectProperties({ ...schema, name: connectName === "io.confluent.connect.avro.ConnectDefault" ? undefined : connectName })
    },
    fix
  }
}

/** A field's schema with its optionality: a union with null, ordered so that its default (if any) is the first branch's. */
const convertField = (schema: ConnectSchema, scope: NameScope): Converted => {
  const inner = convertType(schema, scope)
  if (schema["optional"] !== true) return inner
  const defaultValue = schema["default"]
  return {
    avro: defaultValue === undefined || defaultValue === null ? ["null", inner.avro] : [inner.avro, "null"],
    fix: inner.fix
  }
}

/** A struct's value fix: renames columns whose Avro names differ and fixes field values; undefined when none needs it. */
const structFix = (fields: ReadonlyArray<{ column: string; name: string; fix: Fix | undefined }>): Fix | undefined => {
  const work = fields.filter((f) => f.fix !== undefined || f.column !== f.name)
  if (work.length === 0) return undefined
  return (value) => {
    if (value === null || typeof value !== "object") return value
    const record = value as Record<string, unknown>
    for (const f of work) {
      const v = record[f.column]
      if (f.column !== f.name) delete record[f.column]
      record[f.name] = v === null || v === undefined || f.fix === undefined ? v : f.fix(v)
    }
    return record
  }
}

/** The Avro schema of a top-level Connect struct (a key or an envelope) and its value fix. */
export const avroOf = (schema: ConnectSchema): Converted => convertType(schema, new NameScope())
