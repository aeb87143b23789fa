/**
 * Kafka's variable-length integers: unsigned LEB128 (7 bits per byte, low
 * first), and the signed kind as the zigzag of an int32 (0, -1, 1, -2 ... ->
 * 0, 1, 2, 3 ...) written the same way. Record batches use the signed kind,
 * flexible request versions the unsigned one for lengths.
 */

/** Bytes of the unsigned varint of a uint32. */
export const unsignedVarintBytes = (value: number): number => {
  let n = 1
  while (value >= 0x80) {
    value >>>= 7
    n++
  }
  return n
}

/** Writes the unsigned varint of a uint32 at `offset`; returns the offset after it. */
export const writeUnsignedVarint = (buffer: Buffer, offset: number, value: number): number => {
  while (value >= 0x80) {
    buffer[offset++] = (value & 0x7f) | 0x80
    value >>>= 7
  }
  buffer[offset++] = value
  return offset
}

const zigzag = (value: number): number => ((value << 1) ^ (value >> 31)) >>> 0

/** Bytes of the (zigzag) varint of an int32. */
export const varintBytes = (value: number): number => unsignedVarintBytes(zigzag(value))

/** Writes the (zigzag) varint of an int32 at `offset`; returns the offset after it. */
export const writeVarint = (buffer: Buffer, offset: number, value: number): number =>
  writeUnsignedVarint(buffer, offset, zigzag(value))
