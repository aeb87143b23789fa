/**
 * The Java client's key partitioning: `toPositive(murmur2(keyBytes)) % partitions`
 * (org.apache.kafka.common.utils.Utils#murmur2). kafkajs' DefaultPartitioner
 * computes the same, so a key lands on the same partition whichever client wrote it.
 *
 * 32-bit integer arithmetic with Math.imul: this runs once per record on the
 * produce hot path (@platformatic/kafka's own murmur2 uses BigInt, and its
 * default partitioner maps the hash with `>>> 0` instead of Java's mask, which
 * sends about half of the keys to a different partition).
 */

const seed = 0x9747b28c
const m = 0x5bd1e995

/** Java's `Utils.murmur2` of the bytes, as a signed 32-bit integer. */
export const murmur2 = (data: Uint8Array): number => murmur2Range(data, 0, data.length)

/** `murmur2` of `data[start, start + length)`. */
export const murmur2Range = (data: Uint8Array, start: number, length: number): number => {
  let h = seed ^ length
  const whole = start + (length & ~3)
  for (let i = start; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const rest = length & 3
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16
    if (rest >= 2) h ^= data[whole + 1]! << 8
    h ^= data[whole]!
    h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** The partition of a (non-null) key among `partitions`, as the Java client computes it. */
export const keyPartition = (key: Uint8Array, partitions: number): number =>
  (murmur2(key) & 0x7fffffff) % partitions
