import { Hono } from "hono";
import type { EdgeEnv } from "./env";
import { notFound, onError } from "./errors";
import { health } from "./routes/health";

const app = new Hono<EdgeEnv>();
app.route("/health", health);
app.onError(onError);
app.notFound(notFound);

export default app;
