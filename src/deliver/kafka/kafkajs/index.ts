/**
 * The kafkajs backend (`kafka.client = "kafkajs"`), loaded only when chosen:
 * nothing else in outboxx imports kafkajs.
 */
import * as Effect from "effect/Effect"
import type { MakeBackend } from "../KafkaBackend.js"
import { kafkajsAdmin } from "./admin.js"
import { makeKafkajsClient } from "./client.js"
import { classifyKafkaError } from "./errors.js"
import { kafkajsTransactions } from "./transactions.js"
import { kafkajsTransport } from "./transport.js"

export const makeBackend: MakeBackend = (context) =>
  Effect.map(makeKafkajsClient(context), (client) => ({
    name: "kafkajs",
    transport: () => kafkajsTransport(client),
    admin: () => kafkajsAdmin(client.kafka()),
    transactions: (options) => kafkajsTransactions(client.kafka(), client.compression, options),
    classify: classifyKafkaError
  }))
