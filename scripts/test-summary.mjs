// Prints the one closing line CI reads ("N passed, N failed[, N skipped]") from vitest's JSON report.
// Exits non-zero when the report is missing, when a suite failed to load, or when nothing ran.
import { readFileSync } from "node:fs"

const file = process.argv[2] ?? "artifacts/vitest.json"
let report
try {
  report = JSON.parse(readFileSync(file, "utf8"))
} catch (error) {
  console.log(`no test report at ${file}: ${error.message}`)
  console.log("0 passed, 1 failed")
  process.exit(1)
}
const failedSuites = report.testResults.filter(
  (r) => r.status === "failed" && r.assertionResults.length === 0
)
const passed = report.numPassedTests
const failed = report.numFailedTests + failedSuites.length
const skipped = report.numPendingTests + report.numTodoTests
for (const suite of failedSuites) console.log(`suite failed to run: ${suite.name}: ${suite.message}`)
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`)
process.exit(failed > 0 || passed === 0 ? 1 : 0)
