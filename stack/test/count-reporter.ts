import type { Reporter, TestModule } from "vitest/node";

/** Ends the run with one plain "N passed, N failed" line that CI can read whatever the runner. */
export default class CountReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of modules) {
      let failedTests = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") failedTests++;
        else counts.skipped++;
      }
      // A file that failed outside its tests (an import, a beforeAll: its tests then show as
      // skipped) is one failure too, so the line never says "0 failed" for a failed run.
      counts.failed += failedTests > 0 ? failedTests : module.state() === "failed" ? 1 : 0;
    }
    console.log(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  }
}
