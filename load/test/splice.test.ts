import { describe, expect, it } from "vitest";
import { spliceSections } from "../src/bench/splice";

const doc = `# Benchmarks

Produced at commit a.

## Edge (old)

old edge

## Pipeline

pipe

Reproduce: this.
`;

describe("spliceSections", () => {
  it("replaces a section by its heading and keeps the others", () => {
    const out = spliceSections(doc, [{ heading: "## Edge", text: "## Edge (new)\n\nnew edge\n" }]);
    expect(out).toContain("## Edge (new)\n\nnew edge\n\n## Pipeline\n\npipe\n");
    expect(out).not.toContain("old edge");
    expect(out.startsWith("# Benchmarks\n\nProduced at commit a.\n")).toBe(true);
  });

  it("adds a section that was not there before the Reproduce note", () => {
    const out = spliceSections(doc, [{ heading: "## The real path", text: "## The real path (x)\n\nfast\n" }]);
    expect(out).toMatch(/pipe\n\n## The real path \(x\)\n\nfast\n\nReproduce: this\.\n$/);
  });
});
