import type { Reporter, TestModule } from "vitest/node";

/**
 * Ends the run with one plain "N passed, N failed, N skipped" line that CI can read whatever the
 * runner, then names every skipped test with its reason: a skip is never silent. Under CI a skip
 * fails the run (CI has everything installed, so a skip there is a check that did not happen).
 */
export default class CountReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const skipped: string[] = [];
    for (const module of modules) {
      let failedTests = 0;
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") counts.passed++;
        else if (result.state === "failed") failedTests++;
        else {
          counts.skipped++;
          const note = result.state === "skipped" && result.note ? ` (${result.note})` : "";
          skipped.push(`  skipped: ${module.moduleId.replace(`${process.cwd()}/`, "")} > ${test.fullName}${note}`);
        }
      }
      // A file that failed outside its tests (an import, a beforeAll: its tests then show as
      // skipped) is one failure too, so the line never says "0 failed" for a failed run.
      counts.failed += failedTests > 0 ? failedTests : module.state() === "failed" ? 1 : 0;
    }
    console.log(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    for (const line of skipped) console.log(line);
    if (skipped.length > 0 && process.env.CI) {
      console.log("CI runs every test: a skipped test fails the run");
      process.exitCode = 1;
    }
  }
}
