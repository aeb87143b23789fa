/**
 * server_decode: PostgreSQL's logical decoding alone, the source limit. The
 * backend decodes the slot copy with pgoutput and counts the messages
 * server-side; nothing crosses the wire but one row. CPU and memory are the
 * backend process's own (/proc/<pg_backend_pid()>).
 */
import { TreeSampler, processCpuS } from "../lib/proc.js"
import { withClient } from "../lib/servers.js"
import type { ReaderContext, ReaderResult } from "./types.js"

// pgoutput message types of row changes: 'I', 'U', 'D'.
const ROW_MESSAGES = "get_byte(data, 0) IN (73, 85, 68)"

export const serverDecode = async (context: ReaderContext): Promise<ReaderResult> => {
  const { backlog, slot } = context
  return withClient(backlog.database, async (client) => {
    await client.query(`SET statement_timeout = ${Math.round(context.timeoutMs)}`)
    const backend = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid
    const cpuBefore = processCpuS(backend) ?? 0
    const sampler = new TreeSampler(() => backend).start(100)
    const started = performance.now()
    const result = await client.query<{ events: string; bytes: string }>(
      `SELECT count(*) FILTER (WHERE ${ROW_MESSAGES}) AS events, coalesce(sum(length(data)), 0) AS bytes
         FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, NULL,
              'proto_version', '1', 'publication_names', $3)`,
      [slot, backlog.endLsn, backlog.publication]
    )
    const seconds = (performance.now() - started) / 1000
    const stats = sampler.sample()
    sampler.stop()
    const cpuAfter = processCpuS(backend) ?? cpuBefore
    return {
      reader: "server_decode",
      events: Number(result.rows[0]!.events),
      seconds,
      bytes: Number(result.rows[0]!.bytes),
      cpuS: cpuAfter - cpuBefore,
      peakRssMb: stats.peakRssMb
    }
  })
}
