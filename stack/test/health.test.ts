import pg from "pg";
import { describe, expect, inject, it } from "vitest";
import { detailsHeaders } from "../src/status";
import { originSideVersions } from "../src/versions";

type Health = { service: string; status: string; dependencies: Record<string, { ok: boolean; error?: string }> };

describe("after up, every service reports its own dependencies up", () => {
  const stack = inject("stack");

  it.each([
    ["origin", stack.origin.url, ["kafka", "redis"]],
    ["worker", stack.worker.url, ["kafka", "postgres"]],
    ["edge", stack.edge.url, ["upstash", "origin"]],
  ] as const)("%s /health", async (service, url, dependencies) => {
    // Each names its dependencies only to the operator: the admin token, or a signed request for the origin.
    const res = await fetch(`${url}/health`, { headers: await detailsHeaders(service) });
    const body = (await res.json()) as Health;
    expect(body.service).toBe(service);
    expect(Object.keys(body.dependencies).sort()).toEqual([...dependencies].sort());
    for (const name of dependencies) expect(body.dependencies[name], name).toMatchObject({ ok: true });
    expect(res.status).toBe(200);
  });
});

it.each(["edge", "origin", "worker"] as const)("the %s tells anyone else up or down only", async (service) => {
  const res = await fetch(`${inject("stack")[service].url}/health`, { headers: { authorization: "Bearer not-the-admin-token" } });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ status: "ok" });
});

describe("the native stack runs what compose runs", () => {
  const stack = inject("stack");

  it("PostgreSQL of the major docker-compose.yml names (x-versions)", async () => {
    const db = new pg.Client({ connectionString: stack.postgres.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ server_version_num: string }>("SHOW server_version_num");
      expect(Math.floor(Number(rows[0]!.server_version_num) / 10_000)).toBe(originSideVersions().postgresMajor);
    } finally {
      await db.end();
    }
  });
});
