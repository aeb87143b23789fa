/**
 * An application publishing events through the transactional outbox with
 * `outboxx/client` and a plain `pg` client: each order is inserted and its
 * event published in one transaction, so Kafka gets the event if and only
 * if the order exists. `outboxx run` (with `[outbox] topics` allowing
 * `orders.*`) delivers them.
 *
 *   npm run build && npx tsc -p examples/publishing
 *   DATABASE_URL=postgres://app@127.0.0.1:5432/shop node examples/publishing/dist/orders.js 3 orders.events
 *
 * Each order's event carries an `id` header: the order id and the event's
 * number, which consumers deduplicate on (delivery is at least once).
 */
import { publish } from "outboxx/client"
import pg from "pg"

const count = Number(process.argv[2] ?? 1)
const topic = process.argv[3] ?? "orders.events"
const firstId = Number(process.argv[4] ?? 1)

const client = new pg.Client({ connectionString: process.env["DATABASE_URL"] })
await client.connect()
try {
  for (let id = firstId; id < firstId + count; id++) {
    await client.query("BEGIN")
    await client.query("INSERT INTO orders (id, status) VALUES ($1, 'placed')", [id])
    const lsn = await publish(client, {
      topic,
      key: `order-${id}`,
      payload: { type: "OrderPlaced", orderId: id },
      headers: { id: `order-${id}:placed`, type: "OrderPlaced" }
    })
    await client.query("COMMIT")
    console.log(JSON.stringify({ msg: "published", orderId: id, lsn }))
  }
  // A transaction that fails after publishing: neither its order nor its event exists.
  await client.query("BEGIN")
  const lost = firstId + count
  await client.query("INSERT INTO orders (id, status) VALUES ($1, 'placed')", [lost])
  await publish(client, { topic, key: `order-${lost}`, payload: { type: "OrderPlaced", orderId: lost } })
  await client.query("ROLLBACK")
  console.log(JSON.stringify({ msg: "rolled back", orderId: lost }))
} finally {
  await client.end()
}
