/**
 * kafkajs, loaded on first use. The default backend (@platformatic/kafka)
 * produces and administers topics without it, and a daemon that never loads
 * it is 11 MB smaller (idle: kafkajs' admin alone, measured beside the same
 * core modules). It still serves `kafka.client = "kafkajs"`, exactly-once
 * delivery (its transactional producer) and `outboxx check`.
 */
import { createRequire } from "node:module"

type Kafkajs = typeof import("kafkajs")

let loaded: Kafkajs | undefined

export const kafkajsModule = (): Kafkajs => (loaded ??= createRequire(import.meta.url)("kafkajs") as Kafkajs)

/** kafkajs' `logLevel` values (constants of its API), so choosing a level does not load it. */
export const kafkajsLogLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const

/** kafkajs' `CompressionTypes` values. */
export const kafkajsCompressionTypes = { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 } as const
