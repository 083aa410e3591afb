import type { IncomingMessage } from "node:http";
import type { HttpBindings } from "@hono/node-server";
import { Hono, type Context } from "hono";
import type { Logger } from "pino";
import { bearerAuth } from "./auth";
import { isBlocking, type CommandArgs } from "./command-policy";
import { encodeOutcome, encodeReply } from "./encoding";
import { RedisUnavailableError, type RedisExecutor } from "./executor";
import { BadRequestError, parseJson, toCommand, toCommandList } from "./request-body";

export interface RoutesOptions {
  token: string;
  executor: RedisExecutor;
  logger: Logger;
}

const POST_ONLY = ["/", "/pipeline", "/multi-exec"];

const wantsBase64 = (c: Context) => c.req.header("upstash-encoding")?.toLowerCase() === "base64";

// Under @hono/node-server the Node request is at hand. Reading it directly skips building a
// web Request with a ReadableStream and an AbortSignal for every call, a large share of the
// per-request CPU at thousands of requests per second. Plain app.fetch() callers have no env.
function nodeBindings(c: Context): HttpBindings | undefined {
  const env = c.env as Partial<HttpBindings> | undefined;
  return env?.incoming && env.outgoing ? (env as HttpBindings) : undefined;
}

async function readBody(c: Context): Promise<unknown> {
  const node = nodeBindings(c);
  return parseJson(node ? await readIncoming(node.incoming) : await c.req.text());
}

function readIncoming(incoming: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.once("end", () => resolve((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8")));
    incoming.once("error", reject);
  });
}

/** Aborts when the HTTP client hangs up, so a blocking command stops holding its connection. */
function abortSignal(c: Context): AbortSignal {
  const node = nodeBindings(c);
  if (!node) return c.req.raw.signal;
  const controller = new AbortController();
  node.outgoing.once("close", () => {
    if (!node.outgoing.writableFinished) controller.abort(new Error("client closed the connection"));
  });
  return controller.signal;
}

/** Upstash's path style (`GET /get/key`), for curl; the client itself always POSTs JSON. */
function commandFromPath(url: string): CommandArgs {
  const pathname = new URL(url).pathname;
  const segments = pathname.split("/").slice(1);
  if (segments.length > 1 && segments[segments.length - 1] === "") segments.pop();
  try {
    return toCommand(segments.map(decodeURIComponent), "Path command");
  } catch (error) {
    if (error instanceof URIError) throw new BadRequestError("Path command contains malformed percent-encoding");
    throw error;
  }
}

export function createRoutes({ token, executor, logger }: RoutesOptions): Hono {
  const app = new Hono();

  app.use("*", bearerAuth(token));

  const single = async (c: Context, command: CommandArgs) => {
    const outcome = await executor.command(command, isBlocking(command) ? abortSignal(c) : undefined);
    if ("error" in outcome) return c.json({ error: outcome.error }, 400);
    return c.json({ result: encodeReply(outcome.result, wantsBase64(c)) });
  };

  app.post("/", async (c) => single(c, toCommand(await readBody(c))));

  app.post("/pipeline", async (c) => {
    const commands = toCommandList(await readBody(c));
    const outcomes = await executor.pipeline(commands, commands.some(isBlocking) ? abortSignal(c) : undefined);
    const base64 = wantsBase64(c);
    return c.json(outcomes.map((outcome) => encodeOutcome(outcome, base64)));
  });

  app.post("/multi-exec", async (c) => {
    const commands = toCommandList(await readBody(c));
    const outcome = await executor.transaction(commands);
    // A transaction discarded as a whole is one error for the request, as Upstash does;
    // the client then throws with that text.
    if ("aborted" in outcome) return c.json({ error: outcome.aborted }, 400);
    const base64 = wantsBase64(c);
    return c.json(outcome.results.map((result) => encodeOutcome(result, base64)));
  });

  for (const path of POST_ONLY) {
    app.all(path, (c) => {
      c.header("Allow", "POST");
      return c.json({ error: `Method ${c.req.method} not allowed on ${path}; use POST` }, 405);
    });
  }

  app.get("/*", async (c) => {
    // Hono routes HEAD to GET handlers; a HEAD must never run a (possibly writing) command.
    if (c.req.method === "HEAD") {
      c.header("Allow", "GET");
      return c.json({ error: "Method HEAD not allowed; use GET" }, 405);
    }
    return single(c, commandFromPath(c.req.url));
  });

  app.notFound((c) => c.json({ error: `Not found: ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

  app.onError((error, c) => {
    if (error instanceof BadRequestError) return c.json({ error: error.message }, 400);
    if (error instanceof RedisUnavailableError) {
      // Debug only: while redis is down this fires per request; the pool logs the outage once.
      logger.debug({ err: error.message }, "redis unavailable");
      return c.json({ error: error.message }, 500);
    }
    logger.error({ err: error }, "unexpected error while handling a request");
    return c.json({ error: `Internal bridge error: ${error.message}` }, 500);
  });

  return app;
}
