/**
 * The sink of `outboxx tail`: each change event's value as one JSON line on
 * stdout, exactly what `run` would write to Kafka. Tombstones are a Kafka
 * compaction device and are left out. Respects stdout's backpressure, so a
 * slow pipe (`| less`) pauses the replication stream instead of buffering.
 */
import { Effect } from "effect"
import type { RecordSink } from "./RecordSink.js"
import { SinkError } from "./RecordSink.js"

export const stdoutSink = (out: NodeJS.WritableStream = process.stdout): RecordSink => ({
  prepareTopics: () => Effect.void,
  // The values are decoded into one string before the write.
  copiesRecords: true,
  send: (records) =>
    Effect.callback<void, SinkError>((resume) => {
      let text = ""
      for (const record of records) {
        if (record.value !== null) text += (typeof record.value === "string" ? record.value : record.value.toString("utf8")) + "\n"
      }
      if (text.length === 0 || out.write(text)) return resume(Effect.void)
      const onDrain = () => {
        out.off("error", onError)
        resume(Effect.void)
      }
      const onError = (cause: unknown) => {
        out.off("drain", onDrain)
        resume(Effect.fail(new SinkError({ reason: `cannot write to stdout: ${String(cause)}`, retryable: false, cause })))
      }
      out.once("drain", onDrain)
      out.once("error", onError)
    })
})
