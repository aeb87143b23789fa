/**
 * Avro binary encoding (Avro 1.11 specification, "Binary Encoding") of the
 * schemas connectSchema.ts produces: records, arrays, maps, nullable unions and the
 * primitives. Each schema is compiled once per Relation message into a tree
 * of small writer functions; encoding a value is one walk that appends to a
 * reused growable buffer.
 *
 * Our own rather than avsc's: int8 columns and nanosecond timestamps need
 * longs past 2^53, which avsc's long type refuses as numbers and whose
 * BigInt stand-in its (unwrapped) nullable unions cannot place; here a long
 * is a number or a BigInt and is written as a zigzag varint either way.
 */
import type { JsonBytes } from "../../record/JsonBytes.js"
import type { AvroSchema } from "./connectSchema.js"

/** A growable byte buffer, reused from one event to the next. */
export class AvroWriter {
  private buffer = Buffer.allocUnsafe(4096)
  length = 0

  reset(): void {
    this.length = 0
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.length + extra) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buffer.copy(next, 0, 0, this.length)
    this.buffer = next
  }

  byte(b: number): void {
    this.ensure(1)
    this.buffer[this.length++] = b
  }

  /**
   * A zigzag varint of an integer (int and long): 32-bit operators within
   * ±2^30, double arithmetic (exact below 2^53 after the doubling) up to
   * ±2^52, BigInt beyond.
   */
  long(n: number): void {
    this.ensure(10)
    if (n >= -0x40000000 && n < 0x40000000) {
      let z = (n << 1) ^ (n >> 31)
      while (z >= 0x80) {
        this.buffer[this.length++] = (z & 0x7f) | 0x80
        z >>>= 7
      }
      this.buffer[this.length++] = z
      return
    }
    if (n < -0x10000000000000 || n > 0x10000000000000) return this.bigLong(BigInt(n))
    let z = n >= 0 ? n * 2 : -n * 2 - 1
    while (z >= 0x80) {
      this.buffer[this.length++] = (z % 0x80) | 0x80
      z = Math.floor(z / 0x80)
    }
    this.buffer[this.length++] = z
  }

  /** A zigzag varint of any 64-bit integer. */
  bigLong(n: bigint): void {
    this.ensure(10)
    let z = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n))
    while (z >= 0x80n) {
      this.buffer[this.length++] = Number(z & 0x7fn) | 0x80
      z >>= 7n
    }
    this.buffer[this.length++] = Number(z)
  }

  float(n: number): void {
    this.ensure(4)
    this.buffer.writeFloatLE(n, this.length)
    this.length += 4
  }

  double(n: number): void {
    this.ensure(8)
    this.buffer.writeDoubleLE(n, this.length)
    this.length += 8
  }

  bytes(b: Uint8Array): void {
    this.long(b.length)
    this.ensure(b.length)
    this.buffer.set(b, this.length)
    this.length += b.length
  }

  string(s: string): void {
    const max = Buffer.byteLength(s, "utf8")
    this.long(max)
    this.ensure(max)
    this.length += this.buffer.write(s, this.length, "utf8")
  }

  /** Bytes encoded earlier, as they are. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length)
    this.buffer.set(bytes, this.length)
    this.length += bytes.length
  }

  /** Appends `header` and the bytes written as one part of `out` (a record's key or value in the Router's slabs). */
  copyInto(out: JsonBytes, header: Uint8Array): void {
    out.begin()
    out.bytes(header)
    out.range(this.buffer, 0, this.length)
    out.finishPart()
  }

  /** A copy of the bytes written, after `header`. */
  take(header: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(header.length + this.length)
    out.set(header, 0)
    this.buffer.copy(out, header.length, 0, this.length)
    return out
  }
}

export type Encode = (w: AvroWriter, value: unknown) => void

/** Thrown for a value its schema cannot hold (a bug in the value fixes, or data the type does not allow). */
export class AvroValueError extends Error {}

const fail = (what: string, value: unknown): never => {
  throw new AvroValueError(`cannot write ${typeof value === "bigint" ? `${value}n` : JSON.stringify(value)} as Avro ${what}`)
}

const encodeInt: Encode = (w, v) => (typeof v === "number" && Number.isInteger(v) ? w.long(v) : fail("int", v))
const encodeLong: Encode = (w, v) =>
  typeof v === "number" && Number.isSafeInteger(v) ? w.long(v) : typeof v === "bigint" ? w.bigLong(v) : fail("long", v)
const encodeFloat: Encode = (w, v) => (typeof v === "number" ? w.float(v) : fail("float", v))
const encodeDouble: Encode = (w, v) => (typeof v === "number" ? w.double(v) : fail("double", v))
const encodeBoolean: Encode = (w, v) => (typeof v === "boolean" ? w.byte(v ? 1 : 0) : fail("boolean", v))
const encodeString: Encode = (w, v) => (typeof v === "string" ? w.string(v) : fail("string", v))
const encodeBytes: Encode = (w, v) => (v instanceof Uint8Array ? w.bytes(v) : fail("bytes", v))

const primitives: Readonly<Record<string, Encode>> = {
  int: encodeInt,
  long: encodeLong,
  float: encodeFloat,
  double: encodeDouble,
  boolean: encodeBoolean,
  string: encodeString,
  bytes: encodeBytes
}

/**
 * Compiles `schema` into an encoder. Named records are looked up in `named`
 * when referred to by name (the envelope's `after` reuses `before`'s record);
 * a record whose full name is already in `named` when it is defined keeps
 * that encoder (the avro format's row records are written by its own).
 */
export const compile = (schema: AvroSchema, named: Map<string, Encode> = new Map(), namespace?: string): Encode => {
  if (typeof schema === "string") {
    const primitive = primitives[schema]
    if (primitive !== undefined) return primitive
    const known = named.get(schema) ?? (namespace === undefined ? undefined : named.get(`${namespace}.${schema}`))
    if (known === undefined) throw new Error(`Avro schema refers to unknown type ${schema}`)
    return known
  }
  if (Array.isArray(schema)) {
    // Only nullable unions: ["null", T] or [T, "null"].
    const nullIndex = schema.indexOf("null")
    if (schema.length !== 2 || nullIndex < 0) throw new Error(`unsupported Avro union ${JSON.stringify(schema)}`)
    const other = compile(schema[1 - nullIndex] as AvroSchema, named, namespace)
    const otherIndex = 1 - nullIndex
    return (w, v) => {
      if (v === null || v === undefined) w.long(nullIndex)
      else {
        w.long(otherIndex)
        other(w, v)
      }
    }
  }
  const object = schema as Readonly<Record<string, unknown>>
  const type = object["type"]
  if (type === "record") {
    const ns = typeof object["namespace"] === "string" ? object["namespace"] : namespace
    const fullName = ns === undefined ? String(object["name"]) : `${ns}.${String(object["name"])}`
    const given = named.get(fullName)
    if (given !== undefined) return given
    const fields: Array<{ name: string; encode: Encode }> = []
    const encode: Encode = (w, v) => {
      if (v === null || typeof v !== "object") return fail(`record ${fullName}`, v)
      const record = v as Record<string, unknown>
      for (let i = 0; i < fields.length; i++) fields[i]!.encode(w, record[fields[i]!.name])
    }
    named.set(fullName, encode)
    for (const field of object["fields"] as ReadonlyArray<{ name: string; type: AvroSchema }>) {
      fields.push({ name: field.name, encode: compile(field.type, named, ns) })
    }
    return encode
  }
  if (type === "array") {
    const item = compile(object["items"] as AvroSchema, named, namespace)
    return (w, v) => {
      if (!Array.isArray(v)) return fail("array", v)
      if (v.length > 0) {
        w.long(v.length)
        for (const element of v) item(w, element)
      }
      w.long(0)
    }
  }
  if (type === "map") {
    const value = compile(object["values"] as AvroSchema, named, namespace)
    return (w, v) => {
      if (v === null || typeof v !== "object") return fail("map", v)
      const entries = Object.entries(v as Record<string, unknown>)
      if (entries.length > 0) {
        w.long(entries.length)
        for (const [key, element] of entries) {
          w.string(key)
          value(w, element)
        }
      }
      w.long(0)
    }
  }
  if (typeof type === "string") return compile(type, named, namespace)
  throw new Error(`unsupported Avro schema ${JSON.stringify(schema)}`)
}
