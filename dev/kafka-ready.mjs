// Exit 0 when a Kafka client can talk to the broker: connect, read cluster
// metadata and list topics. Used by dev/kafka.sh after the broker logs
// "Kafka Server started" to be sure clients (kafkajs) really get answers.
import kafkajs from "kafkajs"

const broker = process.argv[2] ?? "127.0.0.1:59092"
const kafka = new kafkajs.Kafka({
  clientId: "outboxx-dev-ready",
  brokers: [broker],
  logLevel: kafkajs.logLevel.NOTHING,
  connectionTimeout: 2000,
  requestTimeout: 5000,
  retry: { retries: 0 }
})
const admin = kafka.admin()
try {
  await admin.connect()
  const cluster = await admin.describeCluster()
  await admin.listTopics()
  if (cluster.brokers.length === 0) throw new Error("no brokers in metadata")
  process.exit(0)
} catch (error) {
  console.error(`[dev] kafka not ready yet: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
} finally {
  await admin.disconnect().catch(() => undefined)
}
