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
import { keyPrefixes, textKeyJson } from "../../values/rowJson.js"
import { type DebeziumPlan, debeziumPlan, SOURCE_VERSION } from "../debezium/envelope.js"
import type { ConnectSchema } from "../debezium/types.js"
import { avroOf, type Fix } from "./connectSchema.js"
import { AvroValueError, AvroWriter, compile, type Encode } from "./encoder.js"
import { RegistryClient } from "./RegistryClient.js"

const isDigits = /^-?\d+$/

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

/** `source.sequence`: `["<previous commit end>","<lsn>"]`, null first after a start (as the debezium format). */
const sequenceOf = (previous: number, lsn: number): string =>
  previous === 0 ? `[null,"${lsn}"]` : `["${previous}","${lsn}"]`

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
  private readonly envelope: Encode
  private readonly keyHalf: Half | undefined
  private readonly valueHalf: Half
  private readonly server: string
  private readonly database: string
  private readonly schema: string
  private readonly table: string

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
    this.server = context.stream
    this.database = context.database
    this.schema = relation.schema
    this.table = relation.name
    this.plan = debeziumPlan({
      relation,
      registry: shape.types,
      includeMask: shape.includeMask,
      keyIndexes: shape.keyIndexes,
      name: shape.topic,
      columnFacts: shape.columnFacts,
      server: context.stream,
      database: context.database,
      schemas: false,
      modes: context.debezium
    })
    const envelopeFields = this.plan.valueSchema["fields"] as ReadonlyArray<ConnectSchema>
    const rowFields = envelopeFields[0]!["fields"] as ReadonlyArray<ConnectSchema>
    const byName = new Map(rowFields.map((f) => [f["field"] as string, fieldCodec(f)]))
    this.rowCodecs = relation.columns.map((c, i) => (shape.includeMask[i] ? byName.get(c.name) : undefined))
    this.keyCodecs = (this.plan.keySchema["fields"] as ReadonlyArray<ConnectSchema>).map(fieldCodec)
    this.keyPrefixes = keyPrefixes(shape.keyIndexes.map((i) => relation.columns[i]!.name))
    // The envelope's encoder, with the row record written by writeRow from the tuple's values.
    const avroEnvelope = avroOf(this.plan.valueSchema).avro as { fields: Array<{ type: Array<Record<string, unknown>> }> }
    const rowRecord = avroEnvelope.fields[0]!.type[1]!
    const rowName = `${String(rowRecord["namespace"])}.${String(rowRecord["name"])}`
    this.envelope = compile(avroEnvelope, new Map([[rowName, (w, task) => this.writeRow(w, task as RowTask)]]))
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
    _out: JsonBytes,
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
      afterValues,
      op,
      oldRow === undefined ? null : { values: oldRow, fallback: undefined },
      { values: afterValues, fallback: oldRow },
      this.source("false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn),
      now
    )
  }

  delete(_out: JsonBytes, before: Tuple, _beforeIsFull: boolean, lsn: number, tx: Transaction, now: number): OutRecord {
    const values = before.values()
    // With only the replica identity sent, the other columns are null (every field present, as Debezium writes it).
    return this.record(
      values,
      "d",
      { values, fallback: undefined },
      null,
      this.source("false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn),
      now
    )
  }

  /** Debezium's key change: the delete carries the new key in `__debezium.newkey`, the create the old key in `__debezium.oldkey`. */
  keyChange(
    out: JsonBytes,
    before: Tuple,
    beforeIsFull: boolean,
    after: Tuple,
    lsn: number,
    tx: Transaction,
    now: number
  ): readonly [OutRecord, OutRecord] {
    const oldKey = this.keyPayload(before.values())
    const newKey = this.keyPayload(after.values())
    const deleted = this.delete(out, before, beforeIsFull, lsn, tx, now)
    const created = this.row(out, "c", undefined, false, after, lsn, tx, now)
    return [
      newKey === null ? deleted : { ...deleted, headers: { "__debezium.newkey": newKey } },
      oldKey === null ? created : { ...created, headers: { "__debezium.oldkey": oldKey } }
    ]
  }

  truncate(_out: JsonBytes, lsn: number, tx: Transaction, now: number): OutRecord {
    const source = this.source("false", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn)
    return this.record(undefined, "t", null, null, source, now)
  }

  snapshot(row: TextRow, kind: SnapshotKind, lsn: number, tx: Transaction, now: number): OutRecord {
    // Debezium's initial snapshot rows have no transaction; incremental ones are read inside the window's.
    const source = kind === "initial"
      ? this.source("true", now * 1000, null, lsn, lsn)
      : this.source("incremental", commitTimeUs(tx), tx.xid, tx.previousCommitEndLsn ?? tx.commitLsn, lsn)
    return this.record(row, "r", null, { values: row, fallback: undefined }, source, now)
  }

  keyText(tuple: Tuple): string | null {
    return this.keyPayload(tuple.values())
  }

  private keyPayload(values: ReadonlyArray<TupleValue>): string | null {
    return textKeyJson(this.keyPrefixes, this.plan.writers, this.keyIndexes, values)
  }

  /** The record of one event: the key from `keyValues` (none for a truncate), the envelope around the rows. */
  private record(
    keyValues: ReadonlyArray<TupleValue> | undefined,
    op: Op,
    before: RowTask | null,
    after: RowTask | null,
    source: Record<string, unknown>,
    now: number
  ): OutRecord {
    const w = this.writer
    let key: Buffer | null = null
    if (keyValues !== undefined && this.keyHalf !== undefined) {
      w.reset()
      for (let k = 0; k < this.keyIndexes.length; k++) {
        const value = keyValues[this.keyIndexes[k]!]
        if (typeof value !== "string") throw new AvroValueError(`key column "${this.keyCodecs[k]!.name}" has no value`)
        writeFragment(w, this.keyCodecs[k]!, this.plan.writers[this.keyIndexes[k]!]!(value))
      }
      key = w.take(this.keyHalf.header!)
    }
    w.reset()
    this.envelope(w, {
      before,
      after,
      source,
      transaction: null,
      op,
      ts_ms: now,
      ts_us: now * 1000,
      ts_ns: BigInt(now) * 1_000_000n
    })
    return { topic: this.topic, key, value: w.take(this.valueHalf.header!) }
  }

  private source(snapshot: string, tsUs: number, txId: number | null, previous: number, lsn: number): Record<string, unknown> {
    return {
      version: SOURCE_VERSION,
      connector: "postgresql",
      name: this.server,
      ts_ms: Math.floor(tsUs / 1000),
      snapshot,
      db: this.database,
      sequence: sequenceOf(previous, lsn),
      ts_us: tsUs,
      ts_ns: BigInt(tsUs) * 1000n,
      schema: this.schema,
      table: this.table,
      txId,
      lsn,
      xmin: null,
      origin: null,
      origin_lsn: null
    }
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
