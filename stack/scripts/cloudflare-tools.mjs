// Root postinstall: the second half of `npm install`.
//
// The project runs on the Node.js of the `node` devDependency (npm scripts find it first in
// node_modules/.bin), but `npm install` itself runs on whatever Node the machine has — Node 20 on
// a fresh Debian box. Wrangler, Miniflare and the Workers vitest plugin need Node >= 22, so they
// are optionalDependencies: on an old Node, npm quietly leaves them out instead of installing
// them under an engine it knows is wrong. This script (already on the project's Node, since npm
// put node_modules/.bin first on PATH) sees what was left out and runs the install once more, on
// the right Node, which then takes them in. On a current Node the first pass has them all and
// this does nothing.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../package.json", import.meta.url));
const needed = ["wrangler", "miniflare", "@cloudflare/vitest-plugin"];
const missing = needed.filter((name) => {
  try {
    require.resolve(`${name}/package.json`, { paths: [new URL("../../edge", import.meta.url).pathname] });
    return false;
  } catch {
    return true;
  }
});

const [major, minor] = process.versions.node.split(".").map(Number);
if (missing.length === 0 || process.env.FLUXGATE_TOOLS_PASS) process.exit(0);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`cloudflare tools (${missing.join(", ")}) need Node >= 22.12; this is ${process.version} and the node devDependency is missing`);
  process.exit(1);
}

const npmCli = process.env.npm_execpath;
if (!npmCli) {
  console.error("run this through npm install");
  process.exit(1);
}
console.log(`installing ${missing.join(", ")} on Node ${process.version} …`);
const result = spawnSync(process.execPath, [npmCli, "install", "--no-audit", "--no-fund"], {
  stdio: "inherit",
  env: { ...process.env, FLUXGATE_TOOLS_PASS: "1" },
});
process.exit(result.status ?? 1);
