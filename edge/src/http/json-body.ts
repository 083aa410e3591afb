import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { describeIssues } from "@fluxgate/common";
import type { z } from "zod";

export const MAX_BODY_BYTES = 8 * 1024;

/** Reads at most `limit` bytes, whatever Content-Length claims, so a huge or chunked body costs nothing. */
async function readLimited(request: Request, limit: number): Promise<string> {
  const length = request.headers.get("content-length");
  if (Number(length ?? "0") > limit) throw new HTTPException(413, { message: `body larger than ${limit} bytes` });
  if (!request.body) return "";
  // With a Content-Length the runtime already enforces it: read in one go (the common, cheap case).
  if (length !== null) return request.text();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new HTTPException(413, { message: `body larger than ${limit} bytes` });
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The request's JSON body checked against `schema`; 400 says what is wrong, 413 when too large. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S, limit = MAX_BODY_BYTES): Promise<z.output<S>> {
  const text = await readLimited(c.req.raw, limit);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HTTPException(400, { message: "body must be JSON" });
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new HTTPException(400, { message: describeIssues(result.error) });
  }
  return result.data;
}
