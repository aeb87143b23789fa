/**
 * Writers for PostgreSQL's built-in types, by type OID (the OIDs below 10000
 * are fixed across versions; see pg_type.dat). Types not listed here are user
 * types (resolved from pg_type) or fall back to the text form as a string.
 */
import { arrayWriter } from "./arrayText.js"
import {
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

/** The OIDs this module gives a non-string rule to, by name, for readers and tests. */
export const Oid = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
  box: 603
} as const

/** Scalar types whose JSON is not simply their text as a string. */
const specialScalars: ReadonlyArray<readonly [number, JsonWriter]> = [
  [Oid.bool, writeBool],
  [Oid.bytea, writeBytea],
  [Oid.int8, writeVerbatim],
  [Oid.int2, writeVerbatim],
  [Oid.int4, writeVerbatim],
  [Oid.oid, writeVerbatim],
  [Oid.json, writeJson],
  [Oid.float4, writeFloat],
  [Oid.float8, writeFloat],
  [Oid.date, writeDate],
  [Oid.timestamp, writeTimestamp],
  [Oid.timestamptz, writeTimestamptz],
  [Oid.numeric, writeNumeric],
  [Oid.jsonb, writeJson]
]

/**
 * Built-in scalar types written as their text form in a JSON string. Listed
 * (rather than left to the unknown-OID default) so the registry knows they
 * need no pg_type lookup.
 */
const stringScalars: ReadonlyArray<number> = [
  18, // char
  19, // name
  22, // int2vector ("1 2 3")
  24, // regproc
  25, // text
  27, // tid
  28, // xid
  29, // cid
  30, // oidvector
  142, // xml
  194, // pg_node_tree
  600, 601, 602, 603, 604, 628, 718, // point lseg path box polygon line circle
  650, // cidr
  774, // macaddr8
  790, // money
  829, // macaddr
  869, // inet
  1033, // aclitem
  1042, // bpchar
  1043, // varchar
  1083, // time
  1186, // interval
  1266, // timetz
  1560, // bit
  1562, // varbit
  1790, // refcursor
  2202, 2203, 2204, 2205, 2206, // regprocedure regoper regoperator regclass regtype
  2249, // record
  2275, // cstring
  2950, // uuid
  2970, // txid_snapshot
  3220, // pg_lsn
  3614, // tsvector
  3615, // tsquery
  3642, // gtsvector
  3361, 3402, 5017, 4600, 4601, // planner statistics and BRIN summaries (pg_ndistinct, ...)
  3734, // regconfig
  3769, // regdictionary
  3904, 3906, 3908, 3910, 3912, 3926, // int4range numrange tsrange tstzrange daterange int8range
  4072, // jsonpath
  4089, // regnamespace
  4096, // regrole
  4191, // regcollation
  4451, 4532, 4533, 4534, 4535, 4536, // int4/num/ts/tstz/date/int8 multiranges
  5038, // pg_snapshot
  5069 // xid8
]

/** Built-in array type OID -> its element type OID (delimiter `,` except box's `;`). */
export const builtinArrayElements: ReadonlyArray<readonly [arrayOid: number, elementOid: number]> = [
  [1000, 16], [1001, 17], [1002, 18], [1003, 19], [1016, 20], [1005, 21], [1006, 22], [1007, 23],
  [1008, 24], [1009, 25], [1028, 26], [1010, 27], [1011, 28], [1012, 29], [1013, 30], [199, 114],
  [143, 142], [1017, 600], [1018, 601], [1019, 602], [1020, 603], [1027, 604], [629, 628], [651, 650],
  [1021, 700], [1022, 701], [719, 718], [775, 774], [791, 790], [1040, 829], [1041, 869], [1034, 1033],
  [1014, 1042], [1015, 1043], [1182, 1082], [1183, 1083], [1115, 1114], [1185, 1184], [1187, 1186],
  [1270, 1266], [1561, 1560], [1563, 1562], [1231, 1700], [2201, 1790], [2207, 2202], [2208, 2203],
  [2209, 2204], [2210, 2205], [2211, 2206], [2287, 2249], [1263, 2275], [2951, 2950], [2949, 2970],
  [3221, 3220], [3643, 3614], [3645, 3615], [3644, 3642], [3735, 3734], [3770, 3769], [3807, 3802],
  [4073, 4072], [4090, 4089], [4097, 4096], [4192, 4191], [3905, 3904], [3907, 3906], [3909, 3908],
  [3911, 3910], [3913, 3912], [3927, 3926], [6150, 4451], [6151, 4532], [6152, 4533], [6153, 4534],
  [6155, 4535], [6157, 4536], [5039, 5038], [271, 5069]
]

/** A fresh map of every built-in type's writer, arrays included. */
export const builtinWriters = (): Map<number, JsonWriter> => {
  const writers = new Map<number, JsonWriter>()
  for (const oid of stringScalars) writers.set(oid, writeString)
  for (const [oid, writer] of specialScalars) writers.set(oid, writer)
  for (const [arrayOid, elementOid] of builtinArrayElements) {
    writers.set(arrayOid, arrayWriter(writers.get(elementOid) ?? writeString, elementOid === Oid.box ? ";" : ","))
  }
  return writers
}
