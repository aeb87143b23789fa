#!/usr/bin/env node
/**
 * The `outboxx` executable. It first makes sure the VM runs with the daemon's
 * heap settings (cli/nodeFlags.ts: this may replace the process) and only
 * then loads the CLI (cli/process.ts), so a relaunch costs one VM start and
 * nothing more.
 */
import { relaunchWithNodeFlags } from "./cli/nodeFlags.js"

relaunchWithNodeFlags()
await import("./cli/process.js")
