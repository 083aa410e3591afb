import { parseArgs } from "node:util";
import { LOTTERY_HOW } from "@fluxgate/common";
import { stackConfig } from "./config";
import { checkDraw, entryOfTicket, fetchPublishedDraw, placeOfTicket } from "./lottery/check";
import { readState } from "./state";

const usage = `usage: npm run verify-lottery -- <productId> [--edge <url>] [--commitment <hex>] [--ticket <pre-queue ticket>] [--place <n> | --queue-ticket <ticket>] [--json]

Recomputes every place of a sale's pre-queue draw from what the edge publishes (GET /sales/<productId>/prequeue)
and checks the seed against the commitment. --commitment: the one you recorded from GET /sales/<productId> before the
pre-queue opened (else the published one is trusted). --ticket: your pre-queue ticket (the 202's "ticket"), to find
your place; --place or --queue-ticket: the place the edge gave you after the start, to compare.

The algorithm, to check it with your own code: ${LOTTERY_HOW}`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      edge: { type: "string" },
      commitment: { type: "string" },
      ticket: { type: "string" },
      place: { type: "string" },
      "queue-ticket": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  const productId = positionals[0];
  if (!productId || values.help) {
    console.error(usage);
    return 2;
  }
  const config = stackConfig();
  const edgeUrl = values.edge ?? readState(config.home)?.edge.url ?? `http://127.0.0.1:${config.ports.edge}`;
  const toldPlace = values.place !== undefined ? Number(values.place) : values["queue-ticket"] ? placeOfTicket(values["queue-ticket"]) : undefined;
  const entry = values.ticket !== undefined ? entryOfTicket(values.ticket) : undefined;
  if (values.ticket !== undefined && !entry) {
    console.error("--ticket: not a pre-queue ticket (it carries no entry)");
    return 2;
  }
  const check = checkDraw(await fetchPublishedDraw(edgeUrl, productId), {
    ...(values.commitment ? { commitment: values.commitment.toLowerCase() } : {}),
    ...(entry ? { buyers: [{ entry, place: toldPlace }] } : {}),
  });
  if (values.json) {
    const { buyers, ...rest } = check;
    const mine = buyers[0];
    const ticket = mine && { entry: mine.entry, place: mine.drawn, ...(mine.place !== undefined ? { toldPlace: mine.place } : {}), agrees: mine.agrees };
    console.log(JSON.stringify({ ...rest, ...(ticket ? { ticket } : {}) }, null, 2));
    return check.ok ? 0 : 1;
  }
  const mark = (ok: boolean) => (ok ? "✓" : "✗");
  console.log(`sale ${check.productId} (saleId ${check.saleId}), ${check.algorithm}, ${check.entries.toLocaleString("en-US")} entries, from ${edgeUrl}`);
  console.log(
    `  commitment ${check.commitment} ${check.againstRecordedCommitment ? "(the one you recorded)" : "(as published now: pass --commitment to compare with the one you recorded)"}`,
  );
  for (const b of check.buyers) {
    const told = b.place !== undefined ? `, the edge gave ${b.place}` : "";
    console.log(`  your entry ${b.entry}: place ${b.drawn ?? "none"}${told} ${mark(b.agrees)}`);
  }
  for (const problem of check.problems) console.log(`  ✗ ${problem}`);
  console.log(
    check.ok ? `OK: SHA-256(seed) is the commitment and every place is what the seed and the entries give` : `NOT VERIFIED (${check.problems.length} problems)`,
  );
  return check.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
  },
);
