/**
 * `outboxx/client`: what an application imports to publish events through
 * the transactional outbox (INTERFACE.md "Client for TypeScript
 * applications"). Each call runs `outboxx.publish(...)` on the caller's own
 * connection, inside the caller's transaction: the event is delivered once
 * that transaction commits, and never if it rolls back.
 *
 * Two ways in: `publish(client, event)` for a `pg` client (or pool client),
 * and `publishEffect(event)` for Effect applications, on whatever
 * `SqlClient` they provide (`@effect/sql-pg`'s PgClient), so it joins the
 * transaction `sql.withTransaction` opened.
 *
 * This module loads nothing of the daemon.
 */
import * as Effect from "effect/Effect"
import { SqlClient, type SqlError } from "effect/sql"

/** One event for Kafka. */
export interface OutboxEvent {
  /** The Kafka topic; the daemon delivers only to topics its `[outbox] topics` allow (else the dead-letter topic). */
  readonly topic: string
  /** The Kafka key (its UTF-8 bytes), which picks the partition: events of one key keep their order. null = no key. */
  readonly key: string | null
  /**
   * The Kafka value: bytes as they are, any other value as its JSON text
   * (stored as jsonb, so object keys come out in jsonb's order), null for a
   * null value (a tombstone on a compacted topic).
   */
  readonly payload: Uint8Array | unknown
  /** Kafka headers; e.g. an `id` consumers deduplicate on. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** Anything with pg's `query(text, values)`: a Client, a PoolClient, or a Pool (then outside any transaction of yours). */
export interface Queryable {
  query(text: string, values?: Array<unknown>): Promise<{ readonly rows: Array<any> }>
}

const isBytes = (payload: unknown): payload is Uint8Array => payload instanceof Uint8Array

/** The statement and its parameters: one definition for both ways in. */
const statement = (event: OutboxEvent): { readonly text: string; readonly values: Array<unknown> } => {
  const bytes = isBytes(event.payload)
  const headers = event.headers === undefined ? null : JSON.stringify(event.headers)
  const payload = bytes
    ? Buffer.from(event.payload.buffer, event.payload.byteOffset, event.payload.byteLength)
    : event.payload === null || event.payload === undefined
    ? null
    : JSON.stringify(event.payload)
  return {
    text: `SELECT outboxx.publish($1::text, $2::text, $3::${bytes ? "bytea" : "jsonb"}, $4::jsonb)::text AS lsn`,
    values: [event.topic, event.key, payload, headers]
  }
}

/**
 * Publishes `event` when the transaction `client` is in commits. Returns the
 * WAL position of the message (`pg_lsn` text). Fails as the query fails:
 * an invalid topic or headers, or a role without EXECUTE on outboxx.publish
 * (`outboxx outbox install --grant ROLE`).
 */
export const publish = async (client: Queryable, event: OutboxEvent): Promise<string> => {
  const { text, values } = statement(event)
  const result = await client.query(text, values)
  return result.rows[0].lsn as string
}

/** `publish` for Effect applications, on the `SqlClient` in context (and its open transaction, if any). */
export const publishEffect = (event: OutboxEvent): Effect.Effect<string, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { text, values } = statement(event)
    const rows = yield* sql.unsafe<{ readonly lsn: string }>(text, values)
    return rows[0]!.lsn
  })
