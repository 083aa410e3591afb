import { stackConfig } from "./config";
import { readState } from "./state";

/**
 * npm run token -- <userId> [ttlSeconds]: prints a token of the stack's dev issuer for that buyer,
 * to use as `Authorization: Bearer …` against the local edge.
 */
async function main(sub: string | undefined, ttl: string | undefined): Promise<number> {
  if (!sub) {
    console.error("usage: npm run token -- <userId> [ttlSeconds]");
    return 2;
  }
  const state = readState(stackConfig().home);
  if (!state?.issuer) {
    console.error("the stack is not up (or predates the dev issuer): run npm run up");
    return 1;
  }
  const res = await fetch(new URL("/token", state.issuer.url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub, ...(ttl ? { ttlSeconds: Number(ttl) } : {}) }),
  });
  const body = (await res.json()) as { token?: string };
  if (!res.ok || !body.token) {
    console.error(`the dev issuer answered ${res.status}: ${JSON.stringify(body)}`);
    return 1;
  }
  console.log(body.token);
  return 0;
}

main(process.argv[2], process.argv[3]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
