/**
 * One logical replication (walsender) connection streaming pgoutput.
 *
 * The socket callback does only cheap, synchronous work: it parses the frame,
 * answers a reply-requested keepalive at once (ARCHITECTURE.md rule 2), decodes
 * the pgoutput message (which copies every value it keeps, rule 3) and pushes
 * it onto the pipeline's queue. When the queue grows past its high-water mark
 * the socket is paused; status updates go on from a timer meanwhile, so the
 * walsender never times us out while we are busy. Silence from the server past
 * `livenessTimeout` (while we are reading) is a lost connection (rule 7).
 */
import { Cause, Duration, Effect, Queue, Schedule, Schema, type Scope } from "effect"
import type pg from "pg"
import { isPermanentPostgresCause } from "../postgres/failures.js"
import { routeCopyData } from "../postgres/copyData.js"
import { formatLsn, nowPgEpochMicros } from "../postgres/lsn.js"
import { createPgoutputDecoder, isPgoutputDecodeError, type PgoutputDecodeError, type PgoutputProtocolVersion } from "../decode/decoder.js"
import type { PgoutputMessage } from "../decode/messages.js"
import { encodeStandbyStatus, parseReplicationFrame, ReplicationProtocolError } from "./protocol.js"
import { quoteIdent, quoteLiteral } from "../postgres/quote.js"

/** The replication connection failed, was lost, or the server misbehaved. */
export class ReplicationError extends Schema.TaggedError<ReplicationError>()("ReplicationError", {
  reason: Schema.String,
  /** Worth reconnecting: network trouble, server restart, walsender terminated. */
  retryable: Schema.Boolean,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return this.reason
  }
}

/** What the queue carries, in wire order. */
export type SourceItem =
  | { readonly kind: "message"; readonly lsn: number; readonly message: PgoutputMessage; readonly bytes: number }
  | { readonly kind: "keepalive"; readonly walEnd: number }

export interface SystemIdentity {
  readonly systemId: string
  readonly timeline: number
  readonly xlogpos: string
  readonly dbname: string
}

export interface ReplicationOptions {
  readonly slot: string
  readonly publication: string
  /** Where to start: normally the slot's confirmed_flush_lsn. */
  readonly startLsn: number
  readonly protocolVersion: number
  readonly statusInterval: Duration.Duration
  readonly livenessTimeout: Duration.Duration
  /** The LSN that is safe to report as flushed (the checkpointer's). */
  readonly confirmedLsn: () => number
  /** Pause the socket when this many items wait in the queue. */
  readonly highWaterMark?: number
  /** Time the decoding (two clock reads per message; for batch traces, so only when tracing is on). */
  readonly measureDecode?: boolean
  /** Pause the socket when the decoded messages waiting in the queue reach this many bytes (default 8 MB). */
  readonly highWaterBytes?: number
  /** Delivery holds too much (deliver/HeldBytes.ts): read nothing more until `onDrained` finds room. */
  readonly deliveryFull?: () => boolean
}

export interface ReplicationStream {
  readonly identity: SystemIdentity
  /** Decoded messages and keepalives in wire order; fails with the reason the stream ended. */
  readonly items: Queue.Dequeue<SourceItem, ReplicationError | PgoutputDecodeError | ReplicationProtocolError>
  /**
   * The consumer routed and handed over messages of `consumedBytes` (their
   * `bytes`): resume reading once the queue is below its low-water marks and
   * delivery has room. Also called with nothing consumed when delivery made room.
   */
  readonly onDrained: (consumedBytes?: number) => void
  /** Send a standby status update now with the current confirmed LSN. */
  readonly sendStatus: (replyRequested?: boolean) => void
  /** Stop reading: later messages are dropped (they were never confirmed, so the server resends them). */
  readonly stopReading: () => void
  /** The highest WAL position received so far. */
  readonly receivedLsn: () => number
  /** XLogData payload bytes received since the last call (for the wal_bytes counter). */
  readonly takeReceivedBytes: () => number
  /** Milliseconds spent decoding since the last call (0 unless `measureDecode`). */
  readonly takeDecodeMs: () => number
  /** The flush LSN of the last status update sent to the server: what it has been told is checkpointed. */
  readonly sentFlushLsn: () => number
}

const pgError = (what: string, cause: unknown): ReplicationError => {
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new ReplicationError({ reason: `${what}: ${detail}`, retryable: !isPermanentPostgresCause(cause), cause })
}

/** Runs a simple-protocol command on a replication connection. */
const simpleQuery = (client: pg.Client, sql: string, what: string) =>
  Effect.tryPromise({
    try: () => client.query(sql) as Promise<pg.QueryResult>,
    catch: (cause) => pgError(what, cause)
  })

/** ALTER_REPLICATION_SLOT ... (FAILOVER true) (PostgreSQL 17+): an existing slot becomes a failover slot. */
export const enableSlotFailover = Effect.fnUntraced(function*(client: pg.Client, slot: string) {
  yield* simpleQuery(client, `ALTER_REPLICATION_SLOT ${quoteIdent(slot)} (FAILOVER true)`, `cannot make replication slot "${slot}" a failover slot`)
})

export const identifySystem = Effect.fnUntraced(function*(client: pg.Client) {
  const result = yield* simpleQuery(client, "IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM failed")
  const row = result.rows[0] as { systemid: string; timeline: string | number; xlogpos: string; dbname: string | null }
  return {
    systemId: String(row.systemid),
    timeline: Number(row.timeline),
    xlogpos: row.xlogpos,
    dbname: row.dbname ?? ""
  } satisfies SystemIdentity
})

/**
 * PostgreSQL 17's failover slots (`postgres.slot_failover`): created with the
 * option form of the command, `FAILOVER true`, so a physical standby with
 * `sync_replication_slots = on` keeps a copy the promoted server streams on.
 */
const slotOptions = (snapshot: "export" | "nothing", failover: boolean): string =>
  failover ? ` (SNAPSHOT '${snapshot}', FAILOVER true)` : snapshot === "export" ? " EXPORT_SNAPSHOT" : " NOEXPORT_SNAPSHOT"

/** CREATE_REPLICATION_SLOT ... LOGICAL pgoutput; `temporary` slots die with the connection. */
export const createSlot = Effect.fnUntraced(function*(
  client: pg.Client,
  slot: string,
  options: { readonly temporary: boolean; readonly failover?: boolean }
) {
  const sql = `CREATE_REPLICATION_SLOT ${quoteIdent(slot)}${options.temporary ? " TEMPORARY" : ""} LOGICAL pgoutput${
    slotOptions("nothing", options.failover === true && !options.temporary)
  }`
  const result = yield* simpleQuery(client, sql, `cannot create replication slot "${slot}"`)
  const row = result.rows[0] as { consistent_point: string }
  return row.consistent_point
})

/**
 * CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT: also returns the name of a
 * snapshot that sees exactly what the slot's consistent point does. It is
 * valid only while `client` stays idle (ARCHITECTURE.md rule 5): readers must
 * `SET TRANSACTION SNAPSHOT` before the next command on this connection.
 */
export const createSlotExportingSnapshot = Effect.fnUntraced(function*(client: pg.Client, slot: string, failover = false) {
  const sql = `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput${slotOptions("export", failover)}`
  const result = yield* simpleQuery(client, sql, `cannot create replication slot "${slot}"`)
  const row = result.rows[0] as { consistent_point: string; snapshot_name: string }
  return { consistentPoint: row.consistent_point, snapshotName: row.snapshot_name }
})

/**
 * START_REPLICATION on an open walsender connection. The returned stream lives
 * until the scope closes; closing it ends the copy cleanly (CopyDone) after a
 * final status update.
 */
export const startReplication = Effect.fnUntraced(function*(
  client: pg.Client,
  identity: SystemIdentity,
  options: ReplicationOptions
): Effect.fn.Return<ReplicationStream, never, Scope.Scope> {
  const items = yield* Queue.unbounded<SourceItem, ReplicationError | PgoutputDecodeError | ReplicationProtocolError>()
  // Decoded messages wait here until routed; with the daemon's small young generation
  // (cli/nodeFlags.ts) every one that waits through two scavenges reaches the old one.
  // 256 (plus the rest of the socket chunk being parsed) keeps the route loop fed:
  // 127-141 MB peak against 138-147 MB with 1,024, at the same rate (1,000,000-change drains).
  const highWater = options.highWaterMark ?? 256
  const lowWater = Math.floor(highWater / 4)
  // Counts alone do not bound memory: 256 messages of 20 MB each are 5 GB. Bytes
  // waiting in the queue pause the socket too (one message always gets through).
  const highWaterBytes = options.highWaterBytes ?? 8 * 1024 * 1024
  const lowWaterBytes = highWaterBytes / 4
  let queuedBytes = 0
  const deliveryFull = options.deliveryFull ?? (() => false)
  const decoder = createPgoutputDecoder(options.protocolVersion as PgoutputProtocolVersion)
  const connection = (client as unknown as { connection: PgConnection }).connection
  const socket = connection.stream

  let received = options.startLsn
  let receivedBytes = 0
  let decodeMs = 0
  let sentFlush = options.startLsn
  const measureDecode = options.measureDecode === true
  let lastWireActivity = Date.now()
  let paused = false
  let reading = true
  let ended = false

  const fail = (error: ReplicationError | PgoutputDecodeError | ReplicationProtocolError) => {
    if (ended) return
    ended = true
    reading = false
    Queue.failCauseUnsafe(items, Cause.fail(error))
  }

  const sendStatus = (replyRequested = false) => {
    if (ended || socket.destroyed) return
    const flushed = options.confirmedLsn()
    if (flushed > sentFlush) sentFlush = flushed
    const status = encodeStandbyStatus({
      written: Math.max(received, flushed),
      flushed,
      applied: flushed,
      clientTime: nowPgEpochMicros(),
      replyRequested
    })
    connection.sendCopyFromChunk(status)
  }

  const pauseIfFull = () => {
    if (!paused && (Queue.sizeUnsafe(items) >= highWater || queuedBytes >= highWaterBytes || deliveryFull())) {
      paused = true
      socket.pause()
    }
  }

  const onCopyData = (chunk: Buffer, start: number, end: number) => {
    lastWireActivity = Date.now()
    const frame = parseReplicationFrame(chunk, start, end)
    if (frame instanceof ReplicationProtocolError) return fail(frame)
    if (frame.tag === "PrimaryKeepalive") {
      // Answered even after we stopped reading, so shutdown never trips wal_sender_timeout.
      if (frame.replyRequested) sendStatus()
      if (!reading) return
      if (frame.walEnd > received) received = frame.walEnd
      Queue.offerUnsafe(items, { kind: "keepalive", walEnd: frame.walEnd })
      return
    }
    if (!reading) return
    if (frame.walStart > received) received = frame.walStart
    receivedBytes += frame.dataEnd - frame.dataStart
    const startedAt = measureDecode ? performance.now() : 0
    const decoded = decoder.decode(frame.buffer, frame.dataStart, frame.dataEnd, frame.walStart)
    if (measureDecode) decodeMs += performance.now() - startedAt
    if (isPgoutputDecodeError(decoded)) return fail(decoded)
    const bytes = frame.dataEnd - frame.dataStart
    queuedBytes += bytes
    Queue.offerUnsafe(items, { kind: "message", lsn: frame.walStart, message: decoded, bytes })
    pauseIfFull()
  }

  const onSocketError = (cause: unknown) => fail(pgError("replication connection lost", cause))
  const onSocketEnd = () =>
    fail(new ReplicationError({ reason: "the server closed the replication connection", retryable: true }))

  // The frames straight off the socket (postgres/copyData.ts).
  const stopReading = routeCopyData(client, onCopyData)
  client.on("error", onSocketError)
  client.on("end", onSocketEnd)

  const publications = quoteLiteral(quoteIdent(options.publication))
  const sql = `START_REPLICATION SLOT ${quoteIdent(options.slot)} LOGICAL ${formatLsn(options.startLsn)} ` +
    `(proto_version '${options.protocolVersion}', publication_names ${publications}, messages 'true')`
  // The query settles only when the copy ends: an error here is a failure to
  // start (slot in use, bad publication) or the server ending the stream.
  const copyDone = (client.query(sql) as Promise<unknown>).then(
    () => fail(new ReplicationError({ reason: "the server ended replication", retryable: true })),
    (cause) => fail(pgError(`replication on slot "${options.slot}" stopped`, cause))
  )

  // Status updates on a timer, also while the socket is paused (rule 2), and
  // the liveness watchdog: silence while reading means a frozen peer (rule 7).
  const statusEvery = Duration.toMillis(options.statusInterval)
  const livenessMs = Duration.toMillis(options.livenessTimeout)
  const tickMs = Math.max(50, Math.min(100, statusEvery))
  let lastStatusAt = 0
  let lastSentFlush = options.startLsn
  yield* Effect.sync(() => {
    const now = Date.now()
    const silentFor = now - lastWireActivity
    if (!paused && silentFor > livenessMs) {
      fail(new ReplicationError({
        reason: `no data or keepalive from the server for ${Math.round(silentFor / 1000)}s (liveness_timeout): treating the connection as lost`,
        retryable: true
      }))
      socket.destroy()
      return
    }
    // Besides the period: soon after progress, so a crash re-sends as little as possible.
    const progressed = options.confirmedLsn() > lastSentFlush && now - lastStatusAt >= 200
    if (now - lastStatusAt >= statusEvery || paused && now - lastStatusAt >= 1000 || progressed) {
      lastStatusAt = now
      lastSentFlush = options.confirmedLsn()
      // Ask for a keepalive when the line has been quiet, so liveness follows real wire activity.
      sendStatus(!paused && silentFor > livenessMs / 3)
    }
  }).pipe(Effect.repeat(Schedule.spaced(Duration.millis(tickMs))), Effect.forkScoped)

  yield* Effect.addFinalizer(() =>
    Effect.promise(async () => {
      stopReading()
      client.removeListener("end", onSocketEnd)
      reading = false
      if (paused) socket.resume()
      if (!ended && !socket.destroyed) {
        sendStatus()
        ended = true
        // A clean end of the copy: CopyDone, then the server finishes the command.
        connection.endCopyFrom()
        await Promise.race([copyDone, new Promise((resolve) => setTimeout(resolve, 2000))])
      }
      ended = true
    })
  )

  return {
    identity,
    items,
    onDrained: (consumedBytes = 0) => {
      queuedBytes -= consumedBytes
      if (paused && reading && Queue.sizeUnsafe(items) <= lowWater && queuedBytes <= lowWaterBytes && !deliveryFull()) {
        paused = false
        lastWireActivity = Date.now()
        socket.resume()
      }
    },
    sendStatus,
    stopReading: () => {
      reading = false
      if (!paused) {
        paused = true
        socket.pause()
      }
    },
    receivedLsn: () => received,
    takeReceivedBytes: () => {
      const bytes = receivedBytes
      receivedBytes = 0
      return bytes
    },
    takeDecodeMs: () => {
      const ms = decodeMs
      decodeMs = 0
      return ms
    },
    sentFlushLsn: () => sentFlush
  }
})

/** The parts of pg's internal Connection we use: CopyData out, and the socket (CopyData in: postgres/copyData.ts). */
interface PgConnection {
  readonly stream: import("node:net").Socket
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
}
