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
 */
import type { SchemaRegistrySettings } from "../../../config/model.js"
import type { EventFormat, FormatContext, TableShape } from "../../EventFormat.js"
import type { OutRecord } from "../../record/OutRecord.js"
import { DebeziumTable } from "../debezium/format.js"
import type { ConnectSchema } from "../debezium/types.js"
import { avroOf, type Fix } from "./connectSchema.js"
import { AvroWriter, compile, type Encode } from "./encoder.js"
import { RegistryClient } from "./RegistryClient.js"

const isDigits = /^-?\d+$/

/**
 * JSON.parse keeping integers past 2^53 exact (as BigInt): int8 values and
 * nanosecond timestamps do not fit a double.
 */
const parsePayload = (text: string): unknown =>
  JSON.parse(text, (_key, value, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined && isDigits.test(context.source)
      ? BigInt(context.source)
      : value)

/** One half of a record (key or value): its Avro type, its value fix and, once registered, its id. */
class Half {
  private readonly write: Encode
  readonly schemaText: string
  readonly fix: Fix | undefined
  readonly recordName: string
  /** The 5-byte Confluent header (magic 0 + id), set by `register`. */
  header: Buffer | undefined

  constructor(schema: ConnectSchema) {
    const { avro: avroSchema, fix } = avroOf(schema)
    this.schemaText = JSON.stringify(avroSchema)
    this.write = compile(avroSchema)
    this.fix = fix
    this.recordName = typeof schema["name"] === "string" ? schema["name"] : "ConnectDefault"
  }

  encode(writer: AvroWriter, text: string): Buffer {
    const parsed = parsePayload(text)
    writer.reset()
    this.write(writer, this.fix === undefined ? parsed : this.fix(parsed))
    return writer.take(this.header!)
  }
}

const subjectOf = (strategy: SchemaRegistrySettings["subjectNameStrategy"], topic: string, isKey: boolean, recordName: string): string =>
  strategy === "topic"
    ? `${topic}-${isKey ? "key" : "value"}`
    : strategy === "record"
    ? recordName
    : `${topic}-${recordName}`

class AvroTable extends DebeziumTable {
  private readonly keyHalf: Half | undefined
  private readonly valueHalf: Half

  constructor(
    context: FormatContext,
    shape: TableShape,
    private readonly registry: RegistryClient,
    private readonly writer: AvroWriter,
    private readonly strategy: SchemaRegistrySettings["subjectNameStrategy"]
  ) {
    super(context, shape, false)
    this.keyHalf = shape.keyIndexes.length === 0 ? undefined : new Half(this.plan.keySchema)
    this.valueHalf = new Half(this.plan.valueSchema)
  }

  /** Registers the key and value schemas (each Relation message; the registry returns known ids again). */
  async prepare(): Promise<void> {
    for (const [half, isKey] of [[this.keyHalf, true], [this.valueHalf, false]] as const) {
      if (half === undefined) continue
      const id = await this.registry.register(subjectOf(this.strategy, this.topic, isKey, half.recordName), half.schemaText)
      const header = Buffer.alloc(5)
      header.writeInt32BE(id, 1)
      half.header = header
    }
  }

  protected override record(key: string | null, value: string): OutRecord {
    return {
      topic: this.topic,
      key: key === null || this.keyHalf === undefined ? null : this.keyHalf.encode(this.writer, key),
      value: this.valueHalf.encode(this.writer, value)
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
