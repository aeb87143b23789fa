// Reads the demo topics back from Kafka and prints each record produced since
// <since-ms> (earlier demo runs left theirs in the topics): key, then value.
// Usage: node consume.mjs <brokers> <since-ms> <expected-count> <topic>...
import kafkajs from "kafkajs"

const [brokers, since, expected, ...topics] = process.argv.slice(2)
const kafka = new kafkajs.Kafka({ clientId: "outboxx-demo-reader", brokers: brokers.split(","), logLevel: kafkajs.logLevel.NOTHING })
const consumer = kafka.consumer({ groupId: `outboxx-demo-${process.pid}-${Date.now()}` })
await consumer.connect()
await consumer.subscribe({ topics, fromBeginning: true })
let seen = 0
const done = new Promise((resolve) => {
  const timer = setTimeout(resolve, 30_000)
  consumer.run({
    eachMessage: async ({ topic, message }) => {
      if (Number(message.timestamp) < Number(since)) return
      seen++
      const key = message.key?.toString() ?? "null"
      const value = message.value === null ? "null (tombstone)" : JSON.stringify(JSON.parse(message.value.toString()), null, 2)
      console.log(`--- ${topic}  key=${key}\n${value}`)
      if (seen >= Number(expected)) {
        clearTimeout(timer)
        resolve()
      }
    }
  })
})
await done
await consumer.disconnect()
console.log(`\n${seen} record(s) read back from Kafka`)
process.exit(seen >= Number(expected) ? 0 : 1)
