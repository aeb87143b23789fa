/**
 * The "avro" event format: Debezium's change event (the debezium format's
 * envelope, keys, values and headers) written as Confluent's AvroConverter
 * writes it: the Confluent wire format (magic byte 0, the schema's 4-byte
 * registry id, Avro binary) for key and value, schemas registered in a
 * Confluent-compatible registry under the configured subject name strategy.
 *
 * A table's schemas are registered when its plan is made (each Relation
 * message, so an ALTER TABLE registers the next version before any event of
 * the new shape is sent); a registry that refuses a schema stops the stream
 * before anything of the new shape is sent, so nothing is lost: the change
 * stays unconfirmed in the slot until the subject's rule or the table is
 * fixed.
 *
 * Values take the debezium format's writers (one definition of what each
 * type becomes) and go from each column's JSON fragment straight into Avro:
 * a number's digits into a varint, a string's text, base64 into bytes. Only
 * the rare structured values (arrays, maps, VariableScaleDecimal, Point) are
 * parsed. The envelope and the source block are written from plain values.
 */
import type { SchemaRegistrySettings } from "../../../config/model.js"
import { type TupleValue, Unchanged } from "../../../decode/messages.js"
import type { Tuple } from "../../../decode/tuple.js"
import type { EventFormat, FormatContext, Op, SnapshotKind, TableFormat, TableShape, TextRow, Transaction } from "../../EventFormat.js"
import type { JsonBytes } from "../../record/JsonBytes.js"
import type { OutRecord } from "../../record/OutRecord.js"
import { SlabRecord } from "../../record/SlabRecord.js"
import { jsonString } from "../../values/jsonString.js"
import { keyPrefixes, textKeyJson } from "../../values/rowJson.js"
import type { JsonWriter } from "../../values/writers.js"
import { type DebeziumPlan, debeziumPlanFor, SOURCE_VERSION } from "../debezium/envelope.js"
import { debeziumKeyChange } from "../debezium/format.js"
import type { ConnectSchema } from "../debezium/types.js"
import { avroOf, type Fix } from "./connectSchema.js"
import { AvroValueError, AvroWriter, compile, type Encode } from "./encoder.js"
import { RegistryClient } from "./RegistryClient.js"

const isDigits = /^-?\d+$/
const NO_BYTES = new Uint8Array(0)

/** JSON.parse keeping integers past 2^53 exact (as BigInt): for the structured values only. */
const parseExact = (text: string): unknown =>
  JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined && isDigits.test(context.source)
      ? BigInt(context.source)
      : value)

const enum Kind {
  Int,
  Float,
  Double,
  Boolean,
  String,
  Bytes,
  Structured
}

/** How one field's JSON fragment becomes Avro: its kind, its union branches, and for structured values their encoder. */
interface FieldCodec {
  readonly name: string
  readonly kind: Kind
  /** The union branch of null, -1 for a required field. */
  readonly nullIndex: number
  /** The union branch of a value, -1 for a required field. */
  readonly valueIndex: number
  readonly structured: Encode | undefined
  readonly fix: Fix | undefined
}

/** Bytes of values encoded once (constant strings, per-transaction longs). */
const encoded = (write: (w: AvroWriter) => void): Buffer => {
  const w = new AvroWriter()
  write(w)
  return w.take(Buffer.alloc(0))
}

/**
 * The Avro layout of Debezium's `source` block and envelope that
 * `AvroTable.writeEnvelope` writes by hand (checked against the schema
 * converted from the debezium format's Connect schema when a table is
 * planned): each field's name and Avro type.
 */
const sourceLayout = [
  ["version", "string"],
  ["connector", "string"],
  ["name", "string"],
  ["ts_ms", "long"],
  ["snapshot", "[string,null]"],
  ["db", "string"],
  ["sequence", "[null,string]"],
  ["ts_us", "[null,long]"],
  ["ts_ns", "[null,long]"],
  ["schema", "string"],
  ["table", "string"],
  ["txId", "[null,long]"],
  ["lsn", "[null,long]"],
  ["xmin", "[null,long]"],
  ["origin", "[null,string]"],
  ["origin_lsn", "[null,long]"]
] as const
const envelopeLayout = ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"] as const

const typeName = (type: unknown): string =>
  typeof type === "string"
    ? type
    : Array.isArray(type)
    ? `[${type.map(typeName).join(",")}]`
    : String((type as Record<string, unknown>)["type"])

/** Fails at plan time when the converted schema is not the layout written by hand (a change in envelope.ts without one here). */
const checkLayout = (envelope: { fields: ReadonlyArray<{ name: string; type: unknown }> }): void => {
  const names = envelope.fields.map((f) => f.name)
  const source = envelope.fields[2]!.type as { fields: ReadonlyArray<{ name: string; type: unknown }> }
  const sourceTypes = source.fields.map((f) => [f.name, typeName(f.type)])
  if (JSON.stringify(names) !== JSON.stringify(envelopeLayout) || JSON.stringify(sourceTypes) !== JSON.stringify(sourceLayout)) {
    throw new Error(`the avro format's envelope layout is out of date: ${JSON.stringify(names)} / ${JSON.stringify(sourceTypes)}`)
  }
}

const kindOf = (type: unknown): Kind => {
  switch (type) {
    case "int8":
    case "int16":
    case "int32":
    case "int64":
      return Kind.Int
    case "float":
    case "float32":
      return Kind.Float
    case "double":
    case "float64":
      return Kind.Double
    case "boolean":
      return Kind.Boolean
    case "string":
      return Kind.String
    case "bytes":
      return Kind.Bytes
    default:
      return Kind.Structured
  }
}

const fieldCodec = (field: ConnectSchema): FieldCodec => {
  const kind = kindOf(field["type"])
  const optional = field["optional"] === true
  const hasDefault = field["default"] !== undefined && field["default"] !== null
  const converted = kind === Kind.Structured ? avroOf(field) : undefined
  return {
    name: field["field"] as string,
    kind,
    // Optional fields are ["null", T], or [T, "null"] when they have a default (connectSchema.ts).
    nullIndex: optional ? (hasDefault ? 1 : 0) : -1,
    valueIndex: optional ? (hasDefault ? 0 : 1) : -1,
    structured: converted === undefined ? undefined : compile(converted.avro),
    fix: converted?.fix
  }
}

/** Writes one field from its JSON fragment (what the debezium format's writer made of the column's text). */
const writeFragment = (w: AvroWriter, codec: FieldCodec, fragment: string): void => {
  if (fragment === "null") {
    if (codec.nullIndex < 0) throw new AvroValueError(`field "${codec.name}" is required (NOT NULL) but the change has no value for it`)
    w.long(codec.nullIndex)
    return
  }
  if (codec.valueIndex >= 0) w.long(codec.valueIndex)
  switch (codec.kind) {
    case Kind.Int: {
      const n = Number(fragment)
      if (Number.isSafeInteger(n)) w.long(n)
      else w.bigLong(BigInt(fragment))
      return
    }
    case Kind.Float:
    case Kind.Double: {
      // "NaN", "Infinity" and "-Infinity" come quoted (JSON has no such numbers).
      const n = Number(fragment.charCodeAt(0) === 0x22 ? fragment.slice(1, -1) : fragment)
      if (codec.kind === Kind.Float) w.float(n)
      else w.double(n)
      return
    }
    case Kind.Boolean:
      w.byte(fragment === "true" ? 1 : 0)
      return
    case Kind.String:
      w.string(fragment.indexOf("\\") < 0 ? fragment.slice(1, -1) : JSON.parse(fragment) as string)
      return
    case Kind.Bytes:
      w.bytes(Buffer.from(fragment.slice(1, -1), "base64"))
      return
    case Kind.Structured: {
      const value = parseExact(fragment)
      codec.structured!(w, codec.fix === undefined ? value : codec.fix(value))
      return
    }
  }
}

/** A row to write: the tuple's values, and the old row that fills unchanged TOASTed values (REPLICA IDENTITY FULL). */
interface RowTask {
  readonly values: ReadonlyArray<TupleValue>
  readonly fallback: ReadonlyArray<TupleValue> | undefined
}

const binaryFragment = (bytes: Uint8Array): string =>
  "\"" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") + "\""

const subjectOf = (strategy: SchemaRegistrySettings["subjectNameStrategy"], topic: string, isKey: boolean, recordName: string): string =>
  strategy === "topic"
    ? `${topic}-${isKey ? "key" : "value"}`
    : strategy === "record"
    ? recordName
    : `${topic}-${recordName}`

const commitTimeUs = (tx: Transaction): number => tx.commitTimeUs ?? tx.commitTimeMs * 1000

/**
 * What varies in the `source` block: the snapshot marker, the commit time
 * (microseconds), the xid (null for initial snapshot rows), the previous
 * commit's end LSN (0 after a start: `sequence` starts with null then) and
 * the change's LSN.
 */
interface Source {
  readonly snapshot: string
  readonly tsUs: number
  readonly txId: number | null
  readonly previous: number
  readonly lsn: number
}

/** One half of a record (key or value): its schema text for the registry and, once registered, its 5-byte header. */
interface Half {
  readonly schemaText: string
  readonly recordName: string
  header: Buffer | undefined
}

const half = (schema: ConnectSchema): Half => ({
  schemaText: JSON.stringify(avroOf(schema).avro),
  recordName: typeof schema["name"] === "string" ? schema["name"] : "ConnectDefault",
  header: undefined
})

class AvroTable implements TableFormat {
  private readonly topic: string
  private readonly plan: DebeziumPlan
  private readonly includeMask: ReadonlyArray<boolean>
  private readonly keyIndexes: ReadonlyArray<number>
  private readonly keyPrefixes: ReadonlyArray<string>
  /** Per column: its codec when the column is in the rows, else undefined. */
  private readonly rowCodecs: ReadonlyArray<FieldCodec | undefined>
  private readonly keyCodecs: ReadonlyArray<FieldCodec>
  /** Per column: whether its writer is plain JSON string quoting (text, uuid, json...): the text itself goes into Avro. */
  private readonly plainText: ReadonlyArray<boolean>
  /** `version`, `connector`, `name` of the source block, encoded. */
  private readonly sourceHead: Buffer
  private readonly dbBytes: Buffer
  /** `schema` and `table`, encoded. */
  private readonly tableBytes: Buffer
  /** The source's `ts_ms` ... `ts_ns` for the last commit time written, and the envelope's `ts_*` for the last `now`. */
  private sourceTimes: { tsUs: number; ms: Buffer; usNs: Buffer } = { tsUs: -1, ms: Buffer.alloc(0), usNs: Buffer.alloc(0) }
  private envelopeTimes: { now: number; bytes: Buffer } = { now: -1, bytes: Buffer.alloc(0) }
  private readonly keyHalf: Half | undefined
  private readonly valueHalf: Half

  constructor(
    context: FormatContext,
    shape: TableShape,
    private readonly registry: RegistryClient,
    private readonly writer: AvroWriter,
    private readonly strategy: SchemaRegistrySettings["subjectNameStrategy"]
  ) {
    const { relation } = shape
    this.topic = shape.topic
    this.includeMask = shape.includeMask
    this.keyIndexes = shape.keyIndexes
    // Payloads only: the schemas go to the registry, not into the records.
    this.plan = debeziumPlanFor(context, shape, false)
    const envelopeFields = this.plan.valueSchema["fields"] as ReadonlyArray<ConnectSchema>
    const rowFields = envelopeFields[0]!["fields"] as ReadonlyArray<ConnectSchema>
    const byName = new Map(rowFields.map((f) => [f["field"] as string, fieldCodec(f)]))
    this.rowCodecs = relation.columns.map((c, i) => (shape.includeMask[i] ? byName.get(c.name) : undefined))
    this.keyCodecs = (this.plan.keySchema["fields"] as ReadonlyArray<ConnectSchema>).map(fieldCodec)
    this.keyPrefixes = keyPrefixes(shape.keyIndexes.map((i) => relation.columns[i]!.name))
    checkLayout(avroOf(this.plan.valueSchema).avro as { fields: ReadonlyArray<{ name: string; type: unknown }> })
    this.plainText = this.plan.writers.map((writer: JsonWriter) => writer === jsonString)
    this.sourceHead = encoded((w) => {
      w.string(SOURCE_VERSION)
      w.string("postgresql")
      w.string(context.stream)
    })
    this.dbBytes = encoded((w) => w.string(context.database))
    this.tableBytes = encoded((w) => {
      w.string(relation.schema)
      w.string(relation.name)
    })
    this.keyHalf = shape.keyIndexes.length === 0 ? undefined : half(this.plan.keySchema)
    this.valueHalf = half(this.plan.valueSchema)
  }

  /** Registers the key and value schemas (each Relation message; the registry returns known ids again). */
  async prepare(): Promise<void> {
    for (const [h, isKey] of [[this.keyHalf, true], [this.valueHalf, false]] as const) {
      if (h === undefined) continue
      const id = await this.registry.register(subjectOf(this.strategy, this.topic, isKey, h.recordName), h.schemaText)
      const header = Buffer.alloc(5)
      header.writeInt32BE(id, 1)
      h.header = header
    }
  }

  row(
    out: JsonBytes,
    op: "c" | "u",
    before: Tuple | undefined,
    beforeIsFull: boolean,
    after: Tuple,
    lsn: number,
    tx: Transaction,
    now: number
  ): OutRecord {
    const afterValues = after.values()
    const beforeValues = before?.values()
    // Debezium's `before` is the old row only when the server sent it whole (REPLICA IDENTITY FULL); else null.
    const oldRow = beforeValues !== undefined && beforeIsFull ? beforeValues : undefined
    return this.record(
      out,
      afterValues,
      op,
      oldRow === undefined ? null : { values: oldRow, fallback: undefined },
      { values: afterValues, fallback: oldRow },
      this.source("false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn),
      now
    )
  }

  delete(out: JsonBytes, before: Tuple, _beforeIsFull: boolean, lsn: number, tx: Transaction, now: number): OutRecord {
    const values = before.values()
    // With only the replica identity sent, the other columns are null (every field present, as Debezium writes it).
    return this.record(
      out,
      values,
      "d",
      { values, fallback: undefined },
      null,
      this.source("false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn),
      now
    )
  }

  keyChange(
    out: JsonBytes,
    before: Tuple,
    beforeIsFull: boolean,
    after: Tuple,
    lsn: number,
    tx: Transaction,
    now: number
  ): readonly [OutRecord, OutRecord] {
    return debeziumKeyChange(this, (t) => this.keyPayload(t.values()), out, before, beforeIsFull, after, lsn, tx, now)
  }

  truncate(out: JsonBytes, lsn: number, tx: Transaction, now: number): OutRecord {
    const source = this.source("false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn)
    return this.record(out, undefined, "t", null, null, source, now)
  }

  snapshot(_out: JsonBytes, tuple: Tuple, kind: SnapshotKind, lsn: number, tx: Transaction, now: number): OutRecord {
    const row = tuple.values() as TextRow
    // Debezium's initial snapshot rows have no transaction; incremental ones are read inside the window's.
    const source = kind === "initial"
      ? this.source("true", now * 1000, null, lsn, lsn)
      : this.source("incremental", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn)
    return this.record(undefined, row, "r", null, { values: row, fallback: undefined }, source, now)
  }

  keyText(tuple: Tuple): string | null {
    return this.keyPayload(tuple.values())
  }

  private keyPayload(values: ReadonlyArray<TupleValue>): string | null {
    return textKeyJson(this.keyPrefixes, this.plan.writers, this.keyIndexes, values)
  }

  /**
   * The record of one event: the key from `keyValues` (none for a truncate),
   * the envelope around the rows. Streamed changes are copied into the
   * Router's slabs (`out`: no Buffer per record); snapshot rows get Buffers.
   */
  private record(
    out: JsonBytes | undefined,
    keyValues: ReadonlyArray<TupleValue> | undefined,
    op: Op,
    before: RowTask | null,
    after: RowTask | null,
    source: Source,
    now: number
  ): OutRecord {
    const w = this.writer
    let key: Buffer | null = null
    let keyBytes: Uint8Array = NO_BYTES
    let keyStart = 0
    let keyLength = -1
    if (keyValues !== undefined && this.keyHalf !== undefined) {
      w.reset()
      for (let k = 0; k < this.keyIndexes.length; k++) {
        const i = this.keyIndexes[k]!
        const value = keyValues[i]
        if (typeof value !== "string") throw new AvroValueError(`key column "${this.keyCodecs[k]!.name}" has no value`)
        if (this.plainText[i]) w.string(value)
        else writeFragment(w, this.keyCodecs[k]!, this.plan.writers[i]!(value))
      }
      if (out === undefined) key = w.take(this.keyHalf.header!)
      else {
        w.copyInto(out, this.keyHalf.header!)
        keyBytes = out.partBuf
        keyStart = out.partStart
        keyLength = out.partLength
      }
    }
    w.reset()
    this.writeEnvelope(w, op, before, after, source, now)
    if (out === undefined) return { topic: this.topic, key, value: w.take(this.valueHalf.header!) }
    w.copyInto(out, this.valueHalf.header!)
    return SlabRecord.make(this.topic, keyBytes, keyStart, keyLength, out.partBuf, out.partStart, out.partLength)
  }

  /** The envelope in the layout of `envelopeLayout` and `sourceLayout` (checked when the table was planned). */
  private writeEnvelope(w: AvroWriter, op: Op, before: RowTask | null, after: RowTask | null, source: Source, now: number): void {
    // before, after: ["null", Value]
    if (before === null) w.long(0)
    else {
      w.long(1)
      this.writeRow(w, before)
    }
    if (after === null) w.long(0)
    else {
      w.long(1)
      this.writeRow(w, after)
    }
    // source
    w.raw(this.sourceHead)
    let times = this.sourceTimes
    if (times.tsUs !== source.tsUs) {
      const tsUs = source.tsUs
      times = {
        tsUs,
        ms: encoded((e) => e.long(Math.floor(tsUs / 1000))),
        usNs: encoded((e) => {
          e.long(1)
          e.long(tsUs)
          e.long(1)
          e.bigLong(BigInt(tsUs) * 1000n)
        })
      }
      this.sourceTimes = times
    }
    w.raw(times.ms)
    w.long(0) // snapshot: [string, null]
    w.string(source.snapshot)
    w.raw(this.dbBytes)
    w.long(1) // sequence: [null, string]
    w.string(source.previous === 0 ? `[null,"${source.lsn}"]` : `["${source.previous}","${source.lsn}"]`)
    w.raw(times.usNs)
    w.raw(this.tableBytes)
    if (source.txId === null) w.long(0)
    else {
      w.long(1)
      w.long(source.txId)
    }
    w.long(1)
    w.long(source.lsn)
    w.long(0) // xmin
    w.long(0) // origin
    w.long(0) // origin_lsn
    w.long(0) // transaction: null
    w.string(op)
    let tail = this.envelopeTimes
    if (tail.now !== now) {
      tail = {
        now,
        bytes: encoded((e) => {
          e.long(1)
          e.long(now)
          e.long(1)
          e.long(now * 1000)
          e.long(1)
          e.bigLong(BigInt(now) * 1_000_000n)
        })
      }
      this.envelopeTimes = tail
    }
    w.raw(tail.bytes)
  }

  private source(snapshot: string, tsUs: number, txId: number | null, previous: number, lsn: number): Source {
    return { snapshot, tsUs, txId, previous, lsn }
  }

  /** The row record's fields, in column order: each included column's fragment written by its codec. */
  private writeRow(w: AvroWriter, task: RowTask): void {
    const { values, fallback } = task
    const writers = this.plan.writers
    for (let i = 0; i < values.length; i++) {
      const codec = this.rowCodecs[i]
      if (codec === undefined) continue
      let value = values[i]
      let fragment: string
      if (value === Unchanged) {
        const old = fallback === undefined ? Unchanged : fallback[i]
        if (old === Unchanged || old === undefined) {
          // Debezium's placeholder for an unchanged TOASTed value the server did not send.
          writeFragment(w, codec, this.plan.placeholders[i]!)
          continue
        }
        value = old
      }
      if (typeof value === "string") {
        if (this.plainText[i]) {
          if (codec.valueIndex >= 0) w.long(codec.valueIndex)
          w.string(value)
          continue
        }
        const bytesOf = this.plan.bytes[i]
        if (bytesOf !== undefined) {
          const bytes = bytesOf(value)
          if (bytes !== null) {
            if (codec.valueIndex >= 0) w.long(codec.valueIndex)
            w.bytes(bytes)
            continue
          }
        }
      }
      fragment = typeof value === "string"
        ? writers[i]!(value)
        : value === null
        ? this.plan.nulls[i]!
        : binaryFragment(value as Uint8Array)
      writeFragment(w, codec, fragment)
    }
  }
}

export const avroFormat = (context: FormatContext): EventFormat => {
  const settings = context.schemaRegistry
  if (settings === undefined) throw new Error("format avro needs [kafka.schema_registry] (the configuration check says so first)")
  const registry = new RegistryClient(settings)
  // One scratch buffer per stream: a stream's events are built one at a time.
  const writer = new AvroWriter()
  return {
    table: (shape) => new AvroTable(context, shape, registry, writer, settings.subjectNameStrategy)
  }
}
