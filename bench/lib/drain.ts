/**
 * Times a reader that writes into Kafka (outboxx, Debezium): starts it, polls
 * the topic's end offsets until they reach the expected record count, reads
 * the process's CPU and peak RSS at that moment, then stops it (SIGTERM).
 *
 * `seconds` runs from the first record visible in the topic to the last one:
 * the drain rate, without process startup (reported apart as `startupS`),
 * which would otherwise punish the JVM on short runs.
 */
import { pollUntil, type Measured } from "./proc.js"
import { topicLogBytes, topicRecordCount, withAdmin } from "./servers.js"

export interface DrainResult {
  readonly events: number
  readonly seconds: number
  readonly startupS: number
  readonly bytes: number
  readonly cpuS: number
  readonly peakRssMb: number
}

const POLL_MS = 50

export const drainIntoTopic = async (options: {
  readonly what: string
  readonly topic: string
  readonly expected: number
  readonly timeoutMs: number
  readonly start: () => Measured | Promise<Measured>
}): Promise<DrainResult> =>
  withAdmin(async (admin) => {
    const started = performance.now()
    const run = await options.start()
    let exitedEarly = false
    void run.exited.then(() => {
      exitedEarly = true
    })
    try {
      let firstAt: number | undefined
      const doneAt = await pollUntil(`${options.what} to deliver ${options.expected} records to ${options.topic}`, options.timeoutMs, POLL_MS, async () => {
        const polledAt = performance.now()
        const count = await topicRecordCount(admin, options.topic)
        if (count > 0 && firstAt === undefined) firstAt = polledAt
        if (count >= options.expected) return performance.now()
        if (exitedEarly) throw new Error(`${options.what} exited before delivering everything (${count}/${options.expected}); see ${run.log}`)
        return undefined
      })
      // Read at the finish line, before the stop signal: shutdown is not counted.
      const stats = run.sampler.sample()
      const events = await topicRecordCount(admin, options.topic)
      return {
        events,
        seconds: (doneAt - (firstAt ?? started)) / 1000,
        startupS: ((firstAt ?? started) - started) / 1000,
        bytes: topicLogBytes(options.topic),
        cpuS: stats.cpuS,
        peakRssMb: stats.peakRssMb
      }
    } finally {
      await run.stop()
    }
  })
