// Prints, last in the log, every test that failed in this run's vitest phases
// (the main run, each PostgreSQL version, the fault suite), with the first
// lines of its error. A CI log is often read from its tail; without this the
// failure sits thousands of lines above the end, behind the later phases.
//
// Usage: node dev/test-summary.mjs <results dir> <phase>...
// The directory holds one vitest JSON report per phase (<phase>.json), as
// dev/test.sh writes them with --reporter=json --outputFile.json=...; a phase
// without one (its server did not start, vitest crashed) is named as such.
import { existsSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"

const [dir, ...phases] = process.argv.slice(2)
if (!dir || phases.length === 0) {
  console.error("usage: node dev/test-summary.mjs <results dir> <phase>...")
  process.exit(2)
}

const root = process.cwd()
// eslint-disable-next-line no-control-regex
const stripAnsi = (text) => text.replace(/\u001b\[[0-9;]*m/g, "")
const firstLines = (text, count) =>
  stripAnsi(text)
    .split("\n")
    .filter((line) => line.trim() !== "")
    .slice(0, count)
    .map((line) => `      ${line}`)
    .join("\n")

const lines = []
for (const phase of phases) {
  const file = join(dir, `${phase}.json`)
  if (!existsSync(file)) {
    lines.push(`  ${phase}: FAILED, wrote no report (it did not start, or vitest itself failed); see the log above`)
    continue
  }
  let report
  try {
    report = JSON.parse(readFileSync(file, "utf8"))
  } catch (error) {
    lines.push(`  ${phase}: FAILED, its report ${file} could not be read (${error.message}); see the log above`)
    continue
  }
  const failures = []
  for (const result of report.testResults ?? []) {
    const path = relative(root, result.name ?? "")
    const failed = (result.assertionResults ?? []).filter((test) => test.status === "failed")
    for (const test of failed) {
      failures.push(`    ${path} > ${test.fullName}\n${firstLines((test.failureMessages ?? []).join("\n"), 6)}`)
    }
    // A file that failed outside its tests (beforeAll, an import, a timeout
    // in a hook) has no failed assertion but a message of its own.
    if (failed.length === 0 && result.status === "failed") {
      failures.push(`    ${path} (outside its tests)\n${firstLines(result.message ?? "", 6)}`)
    }
  }
  // vitest's exit status (dev/test.sh writes it beside the report): a run
  // whose tests all passed still fails when an error escaped them.
  const exitFile = join(dir, `${phase}.exit`)
  const exitCode = existsSync(exitFile) ? Number(readFileSync(exitFile, "utf8").trim()) : 0
  const total = report.numTotalTests ?? 0
  const passed = report.numPassedTests ?? 0
  if (failures.length === 0 && report.success !== false && exitCode === 0) {
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
    lines.push(`  ${phase}: ${passed} of ${total} tests passed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
  } else {
    lines.push(`  ${phase}: FAILED, ${failures.length} failed, ${passed} of ${total} tests passed`)
    lines.push(...failures)
    // vitest fails a run whose tests all passed when an error escaped them
    // (an unhandled rejection, an error thrown after a test ended); the
    // JSON report carries no text for it.
    if (failures.length === 0) {
      lines.push(`    vitest exited with ${exitCode} though no test failed: an error escaped the tests; search the log above for "Unhandled"`)
    }
  }
}

console.log("\n[dev] test summary (each phase's failures, with the first lines of their errors)")
console.log(lines.join("\n"))
