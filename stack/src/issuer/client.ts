/**
 * Buyers signed in with the stack's dev issuer (POST /tokens, in chunks), as a shop's login would
 * sign in its customers: sub -> token.
 */
export async function mintTokens(issuerUrl: string, subs: string[], ttlSeconds = 3_600): Promise<Map<string, string>> {
  const tokens = new Map<string, string>();
  for (let i = 0; i < subs.length; i += 5_000) {
    const res = await fetch(new URL("/tokens", issuerUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ subs: subs.slice(i, i + 5_000), ttlSeconds }),
    });
    if (!res.ok) throw new Error(`dev issuer POST /tokens answered ${res.status}: ${await res.text()}`);
    for (const [sub, token] of Object.entries(((await res.json()) as { tokens: Record<string, string> }).tokens)) tokens.set(sub, token);
  }
  return tokens;
}

/** One token of the dev issuer, with its own ttl and audience (an expired or misdirected one, for bots). */
export async function mintToken(issuerUrl: string, sub: string, extra: { ttlSeconds?: number; aud?: string } = {}): Promise<string> {
  const res = await fetch(new URL("/token", issuerUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sub, ...extra }),
  });
  if (!res.ok) throw new Error(`dev issuer POST /token answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
