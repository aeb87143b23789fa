/**
 * `outboxx outbox install | uninstall`: the SQL side of the WAL-message
 * outbox, in the captured database (INTERFACE.md "WAL messages").
 *
 * Schema `outboxx` holds
 * - `outboxx.publish(topic, key, payload jsonb|bytea, headers jsonb)`, the
 *   functions applications call (EXECUTE revoked from PUBLIC, granted to the
 *   roles named with --grant);
 * - `outboxx.emit(...)`, the one place that checks the arguments, frames the
 *   message (message.ts) and signs it; callable only by its owner, through
 *   publish (SECURITY DEFINER);
 * - `outboxx.publish_key`, the signing key, readable only by its owner (the
 *   daemon's role, which runs install and reads the key at start).
 * Nothing else is stored: a message lives in the WAL only, so there is no
 * table to grow and nothing to vacuum.
 */
import { randomBytes } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type pg from "pg"
import { PostgresError, queryRows } from "../postgres/Postgres.js"
import { quoteIdent } from "../postgres/quote.js"
import { PUBLISH_PREFIX } from "./message.js"

export class OutboxInstallError extends Schema.TaggedError<OutboxInstallError>()("OutboxInstallError", {
  message: Schema.String
}) {}

const SCHEMA_COMMENT = "managed by outboxx: the transactional outbox (outboxx outbox install)"

/** HMAC's block-size key pads: the SQL computes HMAC-SHA256 as sha256(opad || sha256(ipad || body)). */
const pads = (key: Buffer): { readonly ipad: Buffer; readonly opad: Buffer } => ({
  ipad: Buffer.from(key.map((b) => b ^ 0x36)),
  opad: Buffer.from(key.map((b) => b ^ 0x5c))
})

/** Kafka's legal topic names: 1 to 249 of letters, digits, '.', '_', '-', and neither "." nor "..". */
const TOPIC_PATTERN = "^[A-Za-z0-9._-]{1,249}$"

const functionsSql = `
CREATE OR REPLACE FUNCTION outboxx.emit(topic text, key text, kind bytea, payload bytea, headers jsonb)
RETURNS pg_lsn LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  signing record;
  topic_bytes bytea;
  key_bytes bytea;
  header_bytes bytea;
  body bytea;
BEGIN
  IF topic IS NULL OR topic !~ '${TOPIC_PATTERN}' OR topic IN ('.', '..') THEN
    RAISE EXCEPTION 'outboxx.publish: % is not a Kafka topic name', coalesce(quote_literal(topic), 'NULL')
      USING ERRCODE = '22023', HINT = 'A topic is 1 to 249 letters, digits, ".", "_" or "-".';
  END IF;
  IF headers IS NOT NULL AND (jsonb_typeof(headers) <> 'object'
      OR EXISTS (SELECT 1 FROM jsonb_each(headers) AS h WHERE jsonb_typeof(h.value) <> 'string')) THEN
    RAISE EXCEPTION 'outboxx.publish: headers must be a flat JSON object of strings, not %', headers
      USING ERRCODE = '22023';
  END IF;
  SELECT k.ipad, k.opad INTO signing FROM outboxx.publish_key AS k;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'outboxx.publish: outboxx.publish_key is empty' USING ERRCODE = '55000', HINT = 'Run outboxx outbox install.';
  END IF;
  topic_bytes := convert_to(topic, 'UTF8');
  key_bytes := convert_to(key, 'UTF8');
  header_bytes := convert_to(headers::text, 'UTF8');
  body := '\\x01'::bytea
    || int4send(octet_length(topic_bytes)) || topic_bytes
    || CASE WHEN key_bytes IS NULL THEN int4send(-1) ELSE int4send(octet_length(key_bytes)) || key_bytes END
    || CASE WHEN header_bytes IS NULL THEN int4send(-1) ELSE int4send(octet_length(header_bytes)) || header_bytes END
    || kind
    || CASE WHEN payload IS NULL THEN int4send(-1) ELSE int4send(octet_length(payload)) || payload END;
  RETURN pg_logical_emit_message(true, '${PUBLISH_PREFIX}', body || sha256(signing.opad || sha256(signing.ipad || body)));
END
$fn$;

CREATE OR REPLACE FUNCTION outboxx.publish(topic text, key text, payload jsonb, headers jsonb DEFAULT NULL)
RETURNS pg_lsn LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT outboxx.emit(topic, key, '\\x6a'::bytea, convert_to(payload::text, 'UTF8'), headers)
$fn$;

CREATE OR REPLACE FUNCTION outboxx.publish(topic text, key text, payload bytea, headers jsonb DEFAULT NULL)
RETURNS pg_lsn LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT outboxx.emit(topic, key, '\\x62'::bytea, payload, headers)
$fn$;

COMMENT ON FUNCTION outboxx.publish(text, text, jsonb, jsonb) IS
  'Publishes an event to Kafka when this transaction commits (outboxx): topic, key (NULL = none), payload as the value, headers as Kafka headers.';
COMMENT ON FUNCTION outboxx.publish(text, text, bytea, jsonb) IS
  'Publishes an event to Kafka when this transaction commits (outboxx): topic, key (NULL = none), payload bytes as the value, headers as Kafka headers.';

REVOKE ALL ON FUNCTION outboxx.emit(text, text, bytea, bytea, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION outboxx.publish(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION outboxx.publish(text, text, bytea, jsonb) FROM PUBLIC;
`

const publishFunctions = ["outboxx.publish(text, text, jsonb, jsonb)", "outboxx.publish(text, text, bytea, jsonb)"]

/** What a failed statement means here, with what to do about it. */
const explain = (error: PostgresError, database: string): OutboxInstallError => {
  const message = error.message
  switch (error.code) {
    case "42501":
      return new OutboxInstallError({
        message: `outbox install needs to create schema outboxx in database ${quoteIdent(database)}: ${message} ` +
          `(GRANT CREATE ON DATABASE ${quoteIdent(database)} TO the role in postgres.url, or run it as the database owner)`
      })
    case "42704":
      return new OutboxInstallError({ message: `cannot grant: ${message} (--grant names an existing role)` })
    default:
      return new OutboxInstallError({ message: `outbox install failed in database ${quoteIdent(database)}: ${message}` })
  }
}

/** Whether schema outboxx exists, and whether install made it. */
const schemaState = (client: pg.Client) =>
  queryRows<{ comment: string | null }>(
    client,
    "SELECT obj_description(n.oid, 'pg_namespace') AS comment FROM pg_namespace n WHERE n.nspname = 'outboxx'"
  ).pipe(Effect.map((rows) => rows.length === 0 ? "absent" as const : rows[0]!.comment === SCHEMA_COMMENT ? "ours" as const : "foreign" as const))

/**
 * Installs (or brings up to date) the outbox in the connected database, and
 * grants publishing to `grants`. Idempotent: the key is made once and kept,
 * so messages in flight keep verifying. One transaction: all or nothing.
 */
export const installOutbox = Effect.fn("installOutbox")(function*(
  client: pg.Client,
  database: string,
  grants: ReadonlyArray<string>
): Effect.fn.Return<ReadonlyArray<string>, OutboxInstallError | PostgresError> {
  const lines: Array<string> = []
  const state = yield* schemaState(client)
  if (state === "foreign") {
    return yield* new OutboxInstallError({
      message: `schema outboxx already exists in database ${quoteIdent(database)} and was not created by outboxx outbox install; ` +
        `rename or drop it first`
    })
  }
  const run = (sql: string, params?: ReadonlyArray<unknown>) =>
    queryRows(client, sql, params).pipe(Effect.mapError((e) => explain(e, database)))
  yield* run("BEGIN")
  const steps = Effect.gen(function*() {
    yield* run("CREATE SCHEMA IF NOT EXISTS outboxx")
    yield* run(`COMMENT ON SCHEMA outboxx IS '${SCHEMA_COMMENT}'`)
    yield* run("REVOKE ALL ON SCHEMA outboxx FROM PUBLIC")
    yield* run(
      "CREATE TABLE IF NOT EXISTS outboxx.publish_key (" +
        "singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), ipad bytea NOT NULL, opad bytea NOT NULL, " +
        "created_at timestamptz NOT NULL DEFAULT now())"
    )
    yield* run("REVOKE ALL ON outboxx.publish_key FROM PUBLIC")
    const { ipad, opad } = pads(randomBytes(64))
    const inserted = yield* run("INSERT INTO outboxx.publish_key (ipad, opad) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1", [ipad, opad])
    lines.push(inserted.length > 0 ? "created the publish key" : "kept the publish key")
    yield* run(functionsSql)
    lines.push(`${state === "absent" ? "installed" : "updated"} ${publishFunctions.join(" and ")} in database ${quoteIdent(database)}`)
    for (const role of grants) {
      yield* run(`GRANT USAGE ON SCHEMA outboxx TO ${quoteIdent(role)}`)
      yield* run(`GRANT EXECUTE ON FUNCTION ${publishFunctions.join(", ")} TO ${quoteIdent(role)}`)
      lines.push(`granted publishing to role ${quoteIdent(role)}`)
    }
    yield* run("COMMIT")
  })
  // A ROLLBACK that fails too (the connection is gone) adds nothing to the step's error, which is reported.
  yield* steps.pipe(Effect.tapError(() => queryRows(client, "ROLLBACK").pipe(Effect.ignore)))
  return lines
})

/** Removes what install made; refuses to drop a schema holding objects of others. */
export const uninstallOutbox = Effect.fn("uninstallOutbox")(function*(
  client: pg.Client,
  database: string
): Effect.fn.Return<ReadonlyArray<string>, OutboxInstallError | PostgresError> {
  const state = yield* schemaState(client)
  if (state === "absent") return [`schema outboxx does not exist in database ${quoteIdent(database)}; nothing to uninstall`]
  if (state === "foreign") {
    return yield* new OutboxInstallError({ message: `schema outboxx in database ${quoteIdent(database)} was not created by outboxx outbox install; left alone` })
  }
  const run = (sql: string) => queryRows(client, sql).pipe(Effect.mapError((e) => explain(e, database)))
  // As in install: the step's error is reported; a failing ROLLBACK adds nothing to it.
  yield* run("BEGIN")
  yield* Effect.gen(function*() {
    for (const fn of [...publishFunctions, "outboxx.emit(text, text, bytea, bytea, jsonb)"]) yield* run(`DROP FUNCTION IF EXISTS ${fn}`)
    yield* run("DROP TABLE IF EXISTS outboxx.publish_key")
    // RESTRICT: objects someone else put in the schema stop the drop, with PostgreSQL naming them.
    yield* run("DROP SCHEMA outboxx RESTRICT")
    yield* run("COMMIT")
  }).pipe(Effect.tapError(() => queryRows(client, "ROLLBACK").pipe(Effect.ignore)))
  return [`dropped schema outboxx (publish functions and key) from database ${quoteIdent(database)}; messages already published but not yet delivered no longer verify`]
})

/**
 * The publish key the daemon verifies messages with (the HMAC key, 64
 * bytes); fails with what to do when the outbox is not installed or the
 * role cannot read it.
 */
export const readPublishKey = Effect.fn("readPublishKey")(function*(
  client: pg.Client,
  database: string
): Effect.fn.Return<Redacted.Redacted<Buffer>, OutboxInstallError> {
  const rows = yield* queryRows<{ ipad: Buffer }>(client, "SELECT ipad FROM outboxx.publish_key").pipe(
    Effect.mapError((e) =>
      new OutboxInstallError({
        message: e.code === "42P01" || e.code === "3F000"
          ? `[outbox] is configured but the outbox is not installed in database ${quoteIdent(database)}: run outboxx outbox install`
          : `cannot read outboxx.publish_key in database ${quoteIdent(database)}: ${e.message} ` +
            `(the daemon's role must be the one that ran outboxx outbox install)`
      })
    )
  )
  if (rows.length !== 1) {
    return yield* new OutboxInstallError({ message: `outboxx.publish_key in database ${quoteIdent(database)} is empty: run outboxx outbox install` })
  }
  return Redacted.make(Buffer.from(rows[0]!.ipad.map((b) => b ^ 0x36)))
})
