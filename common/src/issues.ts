import type { z } from "zod";

/** A zod failure as one line a client can act on: "path: message; path: message". */
export const describeIssues = (error: z.ZodError): string =>
  error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
