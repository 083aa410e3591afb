import { createServer, type Server } from "node:http";
import { Agent } from "undici";

/** Idle sockets are dropped well before the bridge's own keep-alive timeout (Node's 5 s). */
const agent = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 });

/**
 * A pass-through to an Upstash REST endpoint that counts the commands of each call (one, or a
 * pipeline's), by name: what the edge's isolates send, together, whichever sent it. For tests and
 * benchmarks only; an EVALSHA counts once, whatever the script runs (as Upstash bills it).
 */
export async function countingUpstash(target: string, commands: Map<string, number>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      try {
        const parsed = JSON.parse(body.toString("utf8")) as unknown[];
        const list = (req.url === "/" ? [parsed] : parsed) as unknown[][];
        for (const command of list) {
          const name = String(command[0]).toUpperCase();
          commands.set(name, (commands.get(name) ?? 0) + 1);
        }
      } catch {
        /* not a command: forwarded as is */
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "content-length", "connection"].includes(k))) as Record<
        string,
        string
      >;
      // A kept-alive socket the bridge just closed is the pass-through's own failure, not the
      // edge's: try again (the gate is idempotent per key, so a repeat changes nothing).
      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await fetch(new URL(req.url ?? "/", target), {
            method: req.method ?? "POST",
            headers,
            body,
            dispatcher: agent,
          } as unknown as RequestInit);
          const bytes = Buffer.from(await answer.arrayBuffer());
          res.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" });
          res.end(bytes);
          return;
        } catch (error) {
          if (attempt >= 3) {
            res.writeHead(502, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: `counting pass-through: ${(error as Error).message}` }));
            return;
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return { server, url: `http://127.0.0.1:${address.port}` };
}

/** All commands counted so far. */
export const total = (commands: Map<string, number>) => [...commands.values()].reduce((a, b) => a + b, 0);
