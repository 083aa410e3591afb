import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, wranglerCli } from "../src/home";

const run = promisify(execFile);
const outdir = mkdtempSync(join(tmpdir(), "fluxgate-deploy-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** The two artefacts a deploy ships, checked the way the deploy tools themselves read them. */
describe("the deploy path", () => {
  it("builds the bundle `wrangler deploy` would upload, with the waiting room inside", async () => {
    const { stdout } = await run(process.execPath, [wranglerCli(), "deploy", "--dry-run", "--outdir", outdir, "--config", "wrangler.toml"], {
      cwd: repoRoot,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1" },
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toContain("--dry-run: exiting now.");
    const bundle = join(outdir, "index.js");
    expect(existsSync(bundle)).toBe(true);
    // Workers' free plan refuses a script over 3 MiB gzipped; ours is a fraction of that.
    expect(statSync(bundle).size).toBeLessThan(3 * 1024 * 1024);
    expect(readFileSync(join(repoRoot, "waiting-room/index.html"), "utf8").length).toBeGreaterThan(0);
    expect(readFileSync(bundle, "utf8")).toContain("redis.call(");
  }, 120_000);

  it("validates docker-compose.yml for the origin side (no engine needed)", async (ctx) => {
    const compose = await run("docker-compose", ["version"]).then(
      () => true,
      () => false,
    );
    if (!compose) ctx.skip("docker-compose is not installed (stack/scripts/install-prereqs.sh installs it)");
    const env = { ...process.env, ORIGIN_SIGNING_SECRET: "deploy-check", UPSTASH_REDIS_REST_TOKEN: "deploy-check", POSTGRES_PASSWORD: "deploy-check" };
    await expect(run("docker-compose", ["-f", join(repoRoot, "docker-compose.yml"), "config", "-q"], { env })).resolves.toBeDefined();
  });
});
