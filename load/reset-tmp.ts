const base = process.argv[2]!;
const path = process.argv[3] ?? "/health";
let errors = 0, ok = 0; const codes: Record<string, number> = {}; const msgs = new Set<string>();
await Promise.all(Array.from({ length: 2000 }, async (_, i) => {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const r = await fetch(base + path, path === "/order" ? { method: "POST", headers: { "content-type": "application/json", "idempotency-key": `k${i}` }, body: JSON.stringify({ productId: "nope-x", userId: `u${i}` }) } : {});
      await r.text(); codes[r.status] = (codes[r.status] ?? 0) + 1; ok++;
    } catch (e) { errors++; msgs.add(String((e as Error).cause ?? e)); }
  }
}));
console.log({ ok, errors, codes, msgs: [...msgs].slice(0, 3) });
