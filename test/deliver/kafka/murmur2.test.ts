/**
 * Our murmur2 partitioning against the Java client's test vectors and against
 * kafkajs' DefaultPartitioner (the partitioner the kafkajs backend uses), so
 * both producer backends put a key on the same partition.
 */
import { createRequire } from "node:module"
import fc from "fast-check"
import kafkajs from "kafkajs"
import { describe, expect, it } from "vitest"
import { keyPartition, murmur2 } from "../../../src/deliver/kafka/platformatic/murmur2.js"

const require = createRequire(import.meta.url)
const kafkajsMurmur2 = require("kafkajs/src/producer/partitioners/default/murmur2.js") as (key: Buffer) => number

describe("murmur2", () => {
  it("matches the Java client's Utils.murmur2 test vectors", () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107]
    ]
    for (const [key, hash] of cases) expect(murmur2(Buffer.from(key)), key).toBe(hash)
  })

  it("equals kafkajs' murmur2 on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(murmur2(bytes)).toBe(kafkajsMurmur2(Buffer.from(bytes)))
      }),
      { numRuns: 2_000 }
    )
  })

  it("picks the same partition as kafkajs' DefaultPartitioner", () => {
    const partitioner = kafkajs.Partitioners.DefaultPartitioner()
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (key, partitions) => {
        const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
          partitionId,
          leader: 1,
          replicas: [1],
          isr: [1],
          offlineReplicas: [],
          partitionErrorCode: 0
        }))
        const expected = partitioner({ topic: "t", partitionMetadata, message: { key, value: null } })
        expect(keyPartition(Buffer.from(key), partitions)).toBe(expected)
      }),
      { numRuns: 2_000 }
    )
  })
})
