/**
 * pg_recvlogical: PostgreSQL's own streaming client, pgoutput over the
 * replication protocol to /dev/null — what a fast reader that does nothing
 * with the data costs. It stops by itself at the end LSN (--endpos).
 */
import * as path from "node:path"
import { startMeasured } from "../lib/proc.js"
import { pgBin, pgConninfo } from "../lib/servers.js"
import type { ReaderContext, ReaderResult } from "./types.js"

export const pgRecvlogical = async (context: ReaderContext): Promise<ReaderResult> => {
  const { backlog } = context
  const args = [
    "-d", pgConninfo(backlog.database),
    "--slot", context.slot,
    "--start",
    "--endpos", backlog.endLsn,
    "--no-loop",
    // A 1 s status interval lets it notice the end position promptly once idle.
    "--status-interval", "1",
    "-o", "proto_version=1",
    "-o", `publication_names=${backlog.publication}`,
    "-f", "/dev/null"
  ]
  const started = performance.now()
  const run = startMeasured(path.join(pgBin, "pg_recvlogical"), args, {
    logFile: path.join(context.workDir, "pg_recvlogical.log"),
    timeoutMs: context.timeoutMs
  })
  const exit = await run.exited
  const seconds = (performance.now() - started) / 1000
  if (exit.code !== 0) throw new Error(`pg_recvlogical exited with ${exit.code ?? exit.signal}; see ${run.log}`)
  const stats = run.sampler.stats()
  return {
    reader: "pg_recvlogical",
    // It writes to /dev/null: the events and bytes are the slot's, as server_decode counts them.
    events: backlog.changes,
    seconds: exit.time?.wallS ?? seconds,
    bytes: context.pgoutputBytes,
    cpuS: exit.time?.cpuS ?? stats.cpuS,
    peakRssMb: exit.time?.maxRssMb ?? stats.peakRssMb
  }
}
