import { Hono } from "hono";
import type { EdgeEnv } from "../env";

// The page people see is built in waiting-room/ (its own issue); until then a minimal one that
// keeps the redirect target honest.
export const waitingRoom = new Hono<EdgeEnv>().get("/", (c) =>
  c.html(`<!doctype html><meta charset="utf-8"><title>Waiting room</title><main><h1>You are in line</h1><p>Keep this page open.</p></main>`),
);
