/**
 * Outboxx as a library, for Effect applications: `Outboxx.layer(settings)`
 * or `Outboxx.layerFromFile(path)`, `Outboxx.routes` for the host's HTTP
 * server, the settings and their decoding, the health and the metrics.
 * Everything else is internal. See src/Outboxx.ts and examples/embedded.
 */
export * from "./config/index.js"
export { KafkaConfigError } from "./deliver/kafka/errors.js"
export type { Health, Status, StreamStatus } from "./observability/HealthState.js"
export * as Metrics from "./observability/metrics.js"
export { Outboxx } from "./Outboxx.js"
export type { StreamingError } from "./pipeline/Streaming.js"
export { StateStoreError } from "./state/StateStoreError.js"
