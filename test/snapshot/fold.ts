/**
 * Folding a change topic by key, the way a compacted topic or a sink does:
 * the last event per key wins; a delete or a tombstone removes the key.
 */
export interface KeyedEvent {
  readonly key: string | null
  readonly value: string | null
}

export const foldByKey = (events: Iterable<KeyedEvent>): Map<string, Record<string, unknown>> => {
  const state = new Map<string, Record<string, unknown>>()
  for (const event of events) {
    if (event.key === null) continue
    const key = JSON.stringify(JSON.parse(event.key))
    if (event.value === null) {
      state.delete(key)
      continue
    }
    const value = JSON.parse(event.value) as { op: string; after: Record<string, unknown> | null }
    if (value.op === "d" || value.after === null) state.delete(key)
    else state.set(key, value.after)
  }
  return state
}

/** Rows as `key JSON -> row`, comparable with a fold (`keyOf` builds the same key JSON as the Kafka key). */
export const rowsByKey = <R extends Record<string, unknown>>(
  rows: ReadonlyArray<R>,
  keyOf: (row: R) => Record<string, unknown>
): Map<string, R> => new Map(rows.map((row) => [JSON.stringify(keyOf(row)), row]))

/** Differences between a fold and the expected rows (at most `limit`), for assertion messages. */
export const differences = (
  folded: ReadonlyMap<string, Record<string, unknown>>,
  expected: ReadonlyMap<string, Record<string, unknown>>,
  limit = 5
): Array<string> => {
  const out: Array<string> = []
  for (const [key, row] of expected) {
    const got = folded.get(key)
    if (got === undefined) out.push(`missing ${key}`)
    else if (JSON.stringify(got) !== JSON.stringify(row)) out.push(`${key}: got ${JSON.stringify(got)}, want ${JSON.stringify(row)}`)
    if (out.length >= limit) return out
  }
  for (const key of folded.keys()) {
    if (!expected.has(key)) out.push(`extra ${key}`)
    if (out.length >= limit) return out
  }
  return out
}

/**
 * Random single-row inserts, updates and deletes on `table (id int8 pk, v int4, note text)`
 * with ids in [1, maxId] (or `pickId`'s), each in its own transaction, until stopped.
 */
export const startWriter = (
  query: (sql: string, params: ReadonlyArray<unknown>) => Promise<unknown>,
  table: string,
  maxId: number,
  options: {
    readonly pauseMs?: number
    /** Which id to change next (default: uniformly in [1, maxId]). */
    readonly pickId?: () => number
  } = {}
) => {
  let running = true
  let ops = 0
  const pickId = options.pickId ?? (() => 1 + Math.floor(Math.random() * maxId))
  const loop = (async () => {
    while (running) {
      const id = pickId()
      const r = Math.random()
      if (r < 0.4) await query(`UPDATE ${table} SET v = v + 1, note = md5(random()::text) WHERE id = $1`, [id])
      else if (r < 0.7) await query(`DELETE FROM ${table} WHERE id = $1`, [id])
      else await query(`INSERT INTO ${table} (id, v, note) VALUES ($1, 0, 'ins') ON CONFLICT (id) DO UPDATE SET v = ${table}.v + 100`, [id])
      ops++
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs))
    }
  })()
  return {
    ops: () => ops,
    stop: async () => {
      running = false
      await loop
    }
  }
}
