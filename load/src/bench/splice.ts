/**
 * BENCHMARKS.md is one generated file, but a bench can be re-run alone (`npm run bench -- edge`):
 * its section is replaced, every other section kept as it was measured.
 */

/** Replaces (or appends before the closing "Reproduce" note) the sections whose heading starts with one of `fresh`'s. */
export function spliceSections(markdown: string, fresh: { heading: string; text: string }[]): string {
  const lines = markdown.split("\n");
  const starts = lines.flatMap((l, i) => (l.startsWith("## ") || l.startsWith("Reproduce:") ? [i] : []));
  const blocks: string[] = [lines.slice(0, starts[0] ?? lines.length).join("\n")];
  for (let k = 0; k < starts.length; k++) blocks.push(lines.slice(starts[k], starts[k + 1] ?? lines.length).join("\n"));
  for (const f of fresh) {
    const at = blocks.findIndex((b) => b.startsWith(f.heading));
    const text = f.text.endsWith("\n") ? f.text : `${f.text}\n`;
    if (at >= 0) blocks[at] = text;
    else {
      const end = blocks.findIndex((b) => b.startsWith("Reproduce:"));
      blocks.splice(end >= 0 ? end : blocks.length, 0, text);
    }
  }
  return blocks.join("\n");
}
