/** fast-check generators of journal events, drawn from small pools so events collide. */
import * as fc from "fast-check"
import type { JournalEvent } from "../../src/state/JournalEvent.js"
import { formatLsn } from "../../src/postgres/lsn.js"

const at = fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => new Date(ms).toISOString())
const table = fc.constantFrom("public.orders", "public.payments", "Sales.\"Mixed Case\"")
const key = fc.oneof(
  fc.array(fc.integer(), { minLength: 1, maxLength: 2 }),
  fc.record({ id: fc.string({ maxLength: 8 }) })
)
const rows = fc.nat({ max: 100_000 })

export const journalEvent: fc.Arbitrary<JournalEvent> = fc.oneof(
  fc.record({
    _tag: fc.constant("SlotIdentified" as const),
    systemId: fc.constantFrom("7301234567890123456", "7309999999999999999"),
    timeline: fc.constantFrom(1, 2),
    database: fc.constant("shop"),
    slot: fc.constantFrom("outboxx", "outboxx_b"),
    createdAt: fc.constantFrom("2026-11-23T20:00:00.000Z", "2026-11-24T08:00:00.000Z")
  }),
  fc.record({
    _tag: fc.constant("CheckpointCommitted" as const),
    lsn: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map((lsn) => formatLsn(lsn)),
    at
  }),
  fc.record({ _tag: fc.constant("SnapshotStarted" as const), table, at }),
  fc.record({
    _tag: fc.constant("SnapshotChunkDone" as const),
    table,
    lowKey: fc.option(key, { nil: null }),
    highKey: key,
    rows
  }),
  fc.record({ _tag: fc.constant("SnapshotTableDone" as const), table, rows, at }),
  fc.record({ _tag: fc.constant("SnapshotFinished" as const), tables: fc.array(table, { maxLength: 3 }), at }),
  fc.record({
    _tag: fc.constant("RoleChanged" as const),
    role: fc.constantFrom("active" as const, "standby" as const),
    instance: fc.constantFrom("host-a", "host-b"),
    at
  }),
  fc.record({ _tag: fc.constant("SlotLost" as const), reason: fc.string({ maxLength: 20 }), at })
)
