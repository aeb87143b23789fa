/**
 * The seam between the CLI and the streaming pipeline: `run` and `tail` call
 * these. The CLI provides Settings, HealthState (kept up to date by the
 * pipeline for /readyz and /status), the loggers, the tracer and, for `run`,
 * the HTTP endpoints. Interruption (SIGTERM/SIGINT) is a clean stop, exit 0;
 * a failure exits 1 with the error's message on stderr.
 */
export { runDaemon, runTail } from "../pipeline/commands.js"

import type { Settings } from "../config/Settings.js"
import type { HealthState } from "../observability/HealthState.js"

/** What the CLI provides to runDaemon and runTail. */
export type PipelineServices = Settings
