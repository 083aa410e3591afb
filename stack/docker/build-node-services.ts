/**
 * Builds the origin side's Node services (bridge, origin, worker) into a folder that runs with plain
 * `node`: what node.Dockerfile copies into its image, and what stack/test/node-image.test.ts builds
 * and starts against the stack.
 *
 *   node stack/docker/build-node-services.ts <outdir>
 *
 * <outdir>/<service>/dist/main.js  the service and the workspace code it imports, one ES module, with its source map
 * <outdir>/worker/migrations/      read by the worker at start (beside dist/, where migrate.ts looks)
 * <outdir>/node_modules/           the production dependencies of those services, as package-lock.json pins them
 *
 * Runs on the project's Node (24, TypeScript by type stripping): no tsx, in the build or at run time.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const services = ["bridge", "origin", "worker"] as const;
/** What the services import from the repository: bundled into each, never installed. */
const workspaces = ["common", ...services];

interface Manifest {
  workspaces?: string[];
  dependencies?: Record<string, string>;
}
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(repoRoot, dir, "package.json"), "utf8"));

const outdir = process.argv[2] && resolve(process.argv[2]);
if (!outdir) {
  console.error("usage: node stack/docker/build-node-services.ts <outdir>");
  process.exit(2);
}
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

// The npm packages the services use stay packages (installed below, from the lockfile); only our own
// code is bundled, and the OpenTelemetry SDK, which npm nests under common/node_modules (a second
// @opentelemetry/api sits at the top for other packages): a bundle in <service>/dist would not find it there.
const bundled = (name: string) => name.startsWith("@fluxgate/") || name.startsWith("@opentelemetry/");
const external = [...new Set(workspaces.flatMap((w) => Object.keys(manifest(w).dependencies ?? {})))].filter((name) => !bundled(name));
for (const service of services) {
  await build({
    entryPoints: [join(repoRoot, service, "src", "main.ts")],
    outfile: join(outdir, service, "dist", "main.js"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    external,
    // The bundled CommonJS packages (the OpenTelemetry SDK) require Node's built-ins: give the ES module a require.
    banner: { js: 'import { createRequire as __fluxgateRequire } from "node:module"; const require = __fluxgateRequire(import.meta.url);' },
    sourcemap: true,
    logLevel: "warning",
  });
}
cpSync(join(repoRoot, "worker", "migrations"), join(outdir, "worker", "migrations"), { recursive: true });

// `npm ci` needs the lockfile and every workspace it names; it installs only the services' production dependencies.
const root = manifest(".");
for (const dir of [".", ...(root.workspaces ?? [])]) {
  mkdirSync(join(outdir, dir), { recursive: true });
  cpSync(join(repoRoot, dir, "package.json"), join(outdir, dir, "package.json"));
}
cpSync(join(repoRoot, "package-lock.json"), join(outdir, "package-lock.json"));
const npmCli = process.env.npm_execpath?.endsWith("npm-cli.js") ? [process.execPath, process.env.npm_execpath] : ["npm"];
execFileSync(
  npmCli[0]!,
  [
    ...npmCli.slice(1),
    "ci",
    "--omit=dev",
    "--omit=optional",
    "--ignore-scripts",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    ...workspaces.map((w) => `--workspace=${w}`),
  ],
  { cwd: outdir, stdio: ["ignore", "ignore", "inherit"] },
);

// What remains is what runs: the bundles, their dependencies, and a package.json per service that says "ES module".
rmSync(join(outdir, "node_modules", "@fluxgate"), { recursive: true, force: true });
rmSync(join(outdir, "package-lock.json"));
for (const dir of root.workspaces ?? []) {
  if (!(services as readonly string[]).includes(dir)) rmSync(join(outdir, dir), { recursive: true, force: true });
}
writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ name: "flux-gate-origin-side", private: true, type: "module" }, null, 2)}\n`);
if (!existsSync(join(outdir, "node_modules", "kafkajs"))) throw new Error(`npm ci left ${outdir}/node_modules without kafkajs`);
console.log(`built ${services.join(", ")} into ${outdir}`);
