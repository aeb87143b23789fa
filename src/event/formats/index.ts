/**
 * The formats a stream can name in `format`: the one place that maps a
 * configured name to its module. Adding a format is a module under this
 * folder and a line here (and the name in the config schema).
 */
import type { FormatName } from "../../config/model.js"
import type { EventFormat, FormatContext } from "../EventFormat.js"
import { avroFormat } from "./avro/format.js"
import { cloudeventsFormat } from "./cloudevents.js"
import { debeziumFormat } from "./debezium/format.js"
import { outboxxFormat } from "./outboxx.js"

/** Every configurable name has a format (the compiler holds the config's list and this one together). */
export const formats: Readonly<Record<FormatName, (context: FormatContext) => EventFormat>> = {
  outboxx: outboxxFormat,
  debezium: debeziumFormat,
  avro: avroFormat,
  cloudevents: cloudeventsFormat
}

/** A new instance of the named format for one stream (instances keep per-stream scratch state). */
export const makeFormat = (name: FormatName, context: FormatContext): EventFormat => formats[name](context)
