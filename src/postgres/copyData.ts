/**
 * CopyData messages read straight off a pg connection's socket.
 *
 * Why: a snapshot's COPY rows and the replication stream's changes arrive as
 * one CopyData message each, and pg's parser turns every message into a
 * Buffer slice and a message object, then emits it through two listeners.
 * In a snapshot's profile that was about 4% of Outboxx's CPU, plus the
 * garbage of a slice and an object per row, for bytes we copy out anyway.
 *
 * How: the tap takes the socket's `data` listener (pg's parser) and frames
 * the messages itself. While a handler is routed, a CopyData message goes to
 * it as (bytes, start, end) over the socket's own chunk; every other message
 * (CopyOutResponse, CommandComplete, ErrorResponse, ReadyForQuery...) goes
 * to pg's parser in order and whole, so pg's state, errors and query
 * promises are exactly what they were. Without a handler all bytes go to pg.
 *
 * The handler's bytes are valid only during the call (a message split across
 * socket chunks is assembled in a reused buffer); it must not throw: a throw
 * would leave the framing unknown, so the tap destroys the socket with it.
 */
import type pg from "pg"

/** One CopyData message's payload: `bytes[start, end)`, valid only during the call. */
export type CopyDataHandler = (bytes: Buffer, start: number, end: number) => void

export interface CopyDataTap {
  /** Sends every CopyData message to `handler` (instead of pg) until the returned function is called. */
  readonly route: (handler: CopyDataHandler) => () => void
}

interface TappableStream {
  listeners(event: "data"): Array<(chunk: Buffer) => void>
  removeListener(event: "data", listener: (chunk: Buffer) => void): void
  on(event: "data", listener: (chunk: Buffer) => void): void
  destroy(error?: Error): void
}

const COPY_DATA = 0x64 // 'd'
const HEADER = 5 // type byte and int32 length
/** A message assembled across chunks in a buffer bigger than this is not kept for the next one (one huge value must not stay resident). */
const KEEP_CARRY_BYTES = 1024 * 1024

const taps = new WeakMap<pg.Client, CopyDataTap | null>()

/**
 * The client's tap, installed on first use (after `connect`: TLS replaces the
 * stream while connecting). Undefined when the connection is not as expected
 * (no stream, or not exactly pg's one `data` listener): callers then use
 * pg's `copyData` event, which is slower but the same.
 */
export const copyDataTap = (client: pg.Client): CopyDataTap | undefined => {
  const known = taps.get(client)
  if (known !== undefined) return known ?? undefined
  const stream = (client as unknown as { connection?: { stream?: TappableStream } }).connection?.stream
  const parsers = stream?.listeners("data") ?? []
  if (stream === undefined || parsers.length !== 1) {
    taps.set(client, null)
    return undefined
  }
  const tap = install(stream, parsers[0]!)
  taps.set(client, tap)
  return tap
}

interface CopyDataEvents {
  on(event: "copyData", listener: (msg: { chunk: Buffer }) => void): void
  removeListener(event: "copyData", listener: (msg: { chunk: Buffer }) => void): void
}

/**
 * Sends the client's CopyData messages to `handler` until the returned
 * function is called: through the tap, or through pg's `copyData` event where
 * the tap cannot be had (same messages, a Buffer per message).
 */
export const routeCopyData = (client: pg.Client, handler: CopyDataHandler): () => void => {
  const tap = copyDataTap(client)
  if (tap !== undefined) return tap.route(handler)
  const connection = (client as unknown as { connection: CopyDataEvents }).connection
  const onCopyData = (msg: { chunk: Buffer }) => handler(msg.chunk, 0, msg.chunk.length)
  connection.on("copyData", onCopyData)
  return () => connection.removeListener("copyData", onCopyData)
}

const install = (stream: TappableStream, pgParse: (chunk: Buffer) => void): CopyDataTap => {
  let handler: CopyDataHandler | undefined
  /** A message split across chunks: its first `carried` bytes. */
  let carry: Buffer = Buffer.allocUnsafeSlow(16 * 1024)
  let carried = 0

  const toPg = (chunk: Buffer, start: number, end: number) => {
    if (start < end) pgParse(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end))
  }

  /** Completes the carried message from `chunk`; returns where the chunk's own messages start, or -1 when it was all taken. */
  const finishCarried = (chunk: Buffer): number => {
    let at = 0
    if (carried < HEADER) {
      const take = Math.min(HEADER - carried, chunk.length)
      chunk.copy(carry, carried, 0, take)
      carried += take
      at = take
      if (carried < HEADER) return -1
    }
    const total = 1 + carry.readInt32BE(1)
    if (total < HEADER) {
      // Not a message: let pg's parser say so (it owns protocol errors).
      const bytes = Buffer.concat([carry.subarray(0, carried), chunk.subarray(at)])
      carried = 0
      pgParse(bytes)
      return -1
    }
    if (carry.length < total) {
      const grown = Buffer.allocUnsafeSlow(total)
      carry.copy(grown, 0, 0, carried)
      carry = grown
    }
    const take = Math.min(total - carried, chunk.length - at)
    chunk.copy(carry, carried, at, at + take)
    carried += take
    at += take
    if (carried < total) return -1
    carried = 0
    const message = carry
    if (carry.length > KEEP_CARRY_BYTES) carry = Buffer.allocUnsafeSlow(16 * 1024)
    if (message[0] === COPY_DATA && handler !== undefined) handler(message, HEADER, total)
    else pgParse(Buffer.from(message.subarray(0, total))) // pg may keep what it is given: a copy, not the reused buffer
    return at
  }

  const onData = (chunk: Buffer) => {
    try {
      let pos = carried > 0 ? finishCarried(chunk) : 0
      if (pos < 0) return
      const length = chunk.length
      let toPgFrom = pos
      while (pos + HEADER <= length) {
        const total = 1 + chunk.readInt32BE(pos + 1)
        if (total < HEADER) {
          // A length no message has: hand the rest to pg, whose parser reports it.
          toPg(chunk, toPgFrom, length)
          return
        }
        if (pos + total > length) break
        if (chunk[pos] === COPY_DATA && handler !== undefined) {
          toPg(chunk, toPgFrom, pos)
          handler(chunk, pos + HEADER, pos + total)
          toPgFrom = pos + total
        }
        pos += total
      }
      toPg(chunk, toPgFrom, pos)
      if (pos < length) {
        if (carry.length < length - pos) carry = Buffer.allocUnsafeSlow(Math.max(16 * 1024, length - pos))
        chunk.copy(carry, 0, pos, length)
        carried = length - pos
      }
    } catch (error) {
      // A handler that throws leaves us mid-chunk: the connection cannot be read on.
      stream.destroy(error instanceof Error ? error : new Error(String(error)))
    }
  }

  stream.removeListener("data", pgParse)
  stream.on("data", onData)
  return {
    route: (next) => {
      handler = next
      return () => {
        if (handler === next) handler = undefined
      }
    }
  }
}
