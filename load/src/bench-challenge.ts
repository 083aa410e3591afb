/**
 * npm run bench:challenge — what bot friction costs us against what it costs a client.
 *
 *  1. us:     checking a solved challenge as the edge does (challenge/checkSolution: one HMAC
 *             verify, one SHA-256, a JSON parse), and verifying a sign-in token (Hono's ES256
 *             verify with the imported key), µs per request, median of 5 rounds
 *  2. Node:   solving at each difficulty with the load tools' solver (load/pow.js, node:crypto)
 *  3. Chromium: solving with the waiting-room page's own Web Worker source (headless Chromium)
 *
 * Measured in Node 20's WebCrypto, the API the worker calls (workerd's is BoringSSL, not OpenSSL).
 * Writes .fluxgate/bench/challenge.json and its section of BENCHMARKS.md.
 */
import { execSync } from "node:child_process";
import type { webcrypto } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { sign, verify } from "hono/jwt";
import { chromium } from "playwright-core";
import { checkSolution, issueChallenge } from "../../edge/src/challenge";
import { fluxgateHome, repoRoot } from "./bench/env";
import { solveInNode } from "./bench/identity";
import { percentile, sortedAscending } from "./report/stats";
import { fmtNumber as n, markdownRow as row } from "./bench/table";

const secret = "bench-secret-0123456789abcdef";
const difficulties = [8, 12, 14, 16, 18, 20];
/** Solves per difficulty and runtime: many where they are cheap, fewer where one takes seconds. */
const samples = (bits: number, runtime: "node" | "chromium") => (bits <= 14 ? 30 : bits <= 16 ? 12 : runtime === "node" ? 8 : bits <= 18 ? 5 : 3);
const median = (xs: number[]) => percentile(sortedAscending(xs), 50);

async function microsPer(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn(i);
    rounds.push(((performance.now() - t0) * 1000) / n);
  }
  return median(rounds);
}

async function verifyCosts() {
  const challenge = await issueChallenge(secret, "u1", { productId: "p", saleId: "s", difficulty: 12 });
  const solution = solveInNode(challenge.token, 12);
  const check = await microsPer(5_000, async () => {
    if (typeof (await checkSolution(secret, solution, "u1", "p")) === "string") throw new Error("bench solution refused");
  });
  // A well-formed solution whose MAC is not ours: the HMAC check refuses it before any hashing of the work.
  const [payload, mac, nonce] = solution.split(".");
  const forgedSolution = `${payload}.${mac!.slice(0, 4) === "AAAA" ? "BBBB" : "AAAA"}${mac!.slice(4)}.${nonce}`;
  const forged = await microsPer(5_000, async () => {
    if ((await checkSolution(secret, forgedSolution, "u1", "p")) !== "forged") throw new Error("bench forgery accepted");
  });
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Math.floor(Date.now() / 1000);
  const token = await sign({ sub: "u1", iss: "i", aud: "a", iat: now, exp: now + 600 }, keys.privateKey, "ES256");
  const jwt = await microsPer(2_000, () => verify(token, keys.publicKey, { alg: "ES256", iss: "i", aud: "a" }));
  return { checkSolutionMicros: check, forgedMicros: forged, es256TokenMicros: jwt };
}

function nodeSolves() {
  return difficulties.map((bits) => {
    const ms: number[] = [];
    for (let i = 0; i < samples(bits, "node"); i++) {
      const challenge = `bench-${bits}-${i}-${Math.random().toString(36).slice(2)}`;
      const t0 = performance.now();
      solveInNode(challenge, bits);
      ms.push(performance.now() - t0);
    }
    return { bits, samples: ms.length, medianMs: median(ms) };
  });
}

async function chromiumSolves() {
  // The page's own solver: the Web Worker source inside waiting-room/index.html.
  const html = readFileSync(join(repoRoot, "waiting-room", "index.html"), "utf8");
  const source = /const solverSource = `([\s\S]*?)`;/.exec(html)?.[1];
  if (!source) throw new Error("waiting-room/index.html has no solverSource");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage();
    // A secure context (crypto.subtle), without a server: Chromium's own blank page over https is not needed, data: is not secure.
    await page.route("https://bench.invalid/", (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>bench</title>" }));
    await page.goto("https://bench.invalid/");
    const out = [];
    for (const bits of difficulties) {
      const ms = await page.evaluate(
        async ({ source, bits, n }) => {
          type SolverWorker = { onmessage: ((e: { data: { solution?: string } }) => void) | null; postMessage(m: unknown): void; terminate(): void };
          const Worker = (globalThis as unknown as { Worker: new (url: string) => SolverWorker }).Worker;
          const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
          const times: number[] = [];
          for (let i = 0; i < n; i++) {
            const worker = new Worker(url);
            const t0 = performance.now();
            await new Promise<void>((resolve) => {
              worker.onmessage = (e) => {
                if (e.data.solution) resolve();
              };
              worker.postMessage({ challenge: `bench-${bits}-${i}-${Math.random()}`, difficulty: bits });
            });
            times.push(performance.now() - t0);
            worker.terminate();
          }
          return times;
        },
        { source, bits, n: samples(bits, "chromium") },
      );
      out.push({ bits, samples: ms.length, medianMs: median(ms) });
      process.stdout.write(`  chromium ${bits} bits: ${median(ms).toFixed(1)} ms\n`);
    }
    return { version: browser.version(), solves: out };
  } finally {
    await browser.close();
  }
}

export interface ChallengeBench {
  at: string;
  commit: string;
  /** 1-minute load average when the run started: this machine's 2 cores are shared. */
  loadAverage: number;
  node: string;
  verify: Awaited<ReturnType<typeof verifyCosts>>;
  node_: ReturnType<typeof nodeSolves>;
  chromium: Awaited<ReturnType<typeof chromiumSolves>>;
}

/** Its section of BENCHMARKS.md (bench-all.ts puts it after the others). */
export function challengeSection(b: ChallengeBench): string {
  const us = b.verify.checkSolutionMicros;
  return `## Bot friction (\`npm run bench:challenge\`)

What a proof-of-work challenge costs the edge to check, against what it costs a client to solve, at commit
${b.commit}, ${b.at.slice(0, 16).replace("T", " ")} UTC, Node ${b.node} and headless Chromium ${b.chromium.version}. The edge's costs are
measured by calling its own code (\`edge/src/challenge\`, Hono's JWT verify) in Node's WebCrypto, the API the worker
uses; no Redis command is involved in either check. Load average ${n(b.loadAverage, 1)} on 2 shared cores when the run
started: absolute times are inflated by it, the ratios less so.

${row(["edge work per request", "µs (median of 5 rounds)"])}
${row(["---", "---:"])}
${row(["check a solved challenge (HMAC verify + SHA-256)", n(b.verify.checkSolutionMicros, 1)])}
${row(["refuse a forged one (MAC not ours)", n(b.verify.forgedMicros, 1)])}
${row(["verify an ES256 sign-in token", n(b.verify.es256TokenMicros, 1)])}

${row(["difficulty (bits)", "hashes expected", "solve in Node, median", "solve in Chromium (the page's Web Worker), median", "Chromium solve ÷ edge check"])}
${row(["---", "---:", "---:", "---:", "---:"])}
${difficulties
  .map((bits, i) => {
    const node = b.node_[i]!;
    const chrome = b.chromium.solves[i]!;
    return row([
      bits,
      n(2 ** bits),
      `${n(node.medianMs, 1)} ms (${node.samples})`,
      `${n(chrome.medianMs, 1)} ms (${chrome.samples})`,
      `${n((chrome.medianMs * 1000) / us)}×`,
    ]);
  })
  .join("\n")}

Each solve is a fresh random challenge, so a single solve varies a lot (geometric); the sample count is in brackets.
`;
}

async function main() {
  const commit = execSync("git rev-parse --short HEAD", { cwd: repoRoot, encoding: "utf8" }).trim();
  const loadAverage = loadavg()[0]!;
  console.log("verify costs …");
  const verify = await verifyCosts();
  console.log(verify);
  console.log("solving in Node …");
  const node_ = nodeSolves();
  console.log(node_);
  console.log("solving in headless Chromium …");
  const chromium = await chromiumSolves();
  const result: ChallengeBench = { at: new Date().toISOString(), commit, loadAverage, node: process.version, verify, node_, chromium };
  const dir = join(fluxgateHome(), "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "challenge.json"), JSON.stringify(result, null, 2));
  // Standalone, it refreshes its own section of BENCHMARKS.md; `npm run bench` rewrites the whole file.
  const path = join(repoRoot, "BENCHMARKS.md");
  const md = readFileSync(path, "utf8");
  const start = md.indexOf("## Bot friction");
  const ends = start < 0 ? [] : ["\n## ", "\nReproduce:"].map((mark) => md.indexOf(mark, start + 1)).filter((i) => i >= 0);
  const end = ends.length > 0 ? Math.min(...ends) : -1;
  const section = challengeSection(result);
  const next = start < 0 ? md.replace(/\nReproduce:/, `\n${section}\nReproduce:`) : md.slice(0, start) + section + (end < 0 ? "" : md.slice(end + 1));
  writeFileSync(path, next);
  console.log(`\n${section}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
