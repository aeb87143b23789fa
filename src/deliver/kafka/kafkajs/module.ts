/**
 * kafkajs, loaded on first use, and only for `kafka.client = "kafkajs"`:
 * the default backend (@platformatic/kafka) does everything without it
 * (produce, topics, transactions, the position topic, `outboxx check`), and a
 * daemon that never loads it is 11 MB smaller (idle: kafkajs' admin alone,
 * measured beside the same core modules).
 */
import { createRequire } from "node:module"

type Kafkajs = typeof import("kafkajs")

let loaded: Kafkajs | undefined

export const kafkajsModule = (): Kafkajs => {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url)
    loaded = require("kafkajs") as Kafkajs
    stopIdleRequestQueuePolling(require)
  }
  return loaded
}

interface RequestQueueShape {
  readonly pending: ReadonlyArray<unknown>
  scheduleCheckPendingRequests(): void
}

/**
 * kafkajs 2.2.4 (its last release) re-arms a timer after every check of a
 * connection's pending requests, even with none pending, and arms it with a
 * negative delay (kafkajs issues #1704 and #1751). Every connected broker
 * connection then runs a check every millisecond: an idle producer here fired
 * 830 timers a second for 6% of a core. On Node 24, it also prints a
 * TimeoutNegativeWarning to stderr. Nothing needs the check while nothing is
 * pending: a request queued later schedules its own (`push`). So it is skipped
 * then, as the fix proposed upstream (#1768's review) does. Left alone if the
 * class no longer looks like 2.2.4's.
 */
const stopIdleRequestQueuePolling = (require: NodeJS.Require): void => {
  let RequestQueue: { prototype: RequestQueueShape } | undefined
  try {
    RequestQueue = require("kafkajs/src/network/requestQueue/index.js") as { prototype: RequestQueueShape }
  } catch {
    return
  }
  const schedule = RequestQueue.prototype.scheduleCheckPendingRequests
  if (typeof schedule !== "function" || (schedule as { outboxxPatched?: true }).outboxxPatched) return
  const patched = function(this: RequestQueueShape) {
    if (this.pending.length === 0) return
    schedule.call(this)
  }
  ;(patched as { outboxxPatched?: true }).outboxxPatched = true
  RequestQueue.prototype.scheduleCheckPendingRequests = patched
}

/** kafkajs' `logLevel` values (constants of its API), so choosing a level does not load it. */
export const kafkajsLogLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const

/** kafkajs' `CompressionTypes` values. */
export const kafkajsCompressionTypes = { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 } as const
