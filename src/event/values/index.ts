/** PostgreSQL column values (text form) -> JSON text. See docs/formats.md "Values". */
export { arrayWriter } from "./arrayText.js"
export { builtinArrayElements, builtinWriters, Oid } from "./builtinTypes.js"
export { jsonString } from "./jsonString.js"
export { buildRowJson, keyPrefixes } from "./rowJson.js"
export { type PgTypeInfo, resolveTypes, type TypeQuery, TypeRegistry } from "./TypeRegistry.js"
export { ValueTextError } from "./ValueTextError.js"
export {
  type JsonWriter,
  writeBool,
  writeBytea,
  writeDate,
  writeFloat,
  writeJson,
  writeNumeric,
  writeString,
  writeTimestamp,
  writeTimestamptz,
  writeVerbatim
} from "./writers.js"
