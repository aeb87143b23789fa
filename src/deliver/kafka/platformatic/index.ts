/**
 * The @platformatic/kafka backend (the default), loaded only when chosen.
 */
import * as Effect from "effect/Effect"
import type { MakeBackend } from "../KafkaBackend.js"
import { platformaticAdmin } from "./admin.js"
import { classifyPlatformaticError } from "./errors.js"
import { platformaticTransactions } from "./transactions.js"
import { platformaticTransport } from "./transport.js"

export const makeBackend: MakeBackend = ({ settings, tls }) =>
  Effect.succeed({
    name: "platformatic",
    transport: () => platformaticTransport(settings, tls),
    admin: () => platformaticAdmin(settings, tls),
    transactions: (options) => platformaticTransactions(settings, tls, options),
    classify: classifyPlatformaticError
  })
