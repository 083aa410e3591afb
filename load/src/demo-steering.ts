import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Buyer } from "./bench/sale";

/** Something that happened during the demo (ms since its start); a pause's two ends are drawn as a band, not as markers. */
export interface DemoEvent {
  t: number;
  label: string;
  kind?: "paused" | "resumed";
}

/** Who the demo's controls name in the audit trail (X-Operator, PostgreSQL's sale_events.by_label). */
export const DEMO_OPERATOR = "demo";

/** The edge's answer to a control (edge/src/routes/steer.ts). */
interface Steered {
  applied: boolean;
  version: number;
  status: "running" | "paused";
  remaining: number;
  added: number;
}

/** The operator's controls during the drop, as the summary and the report show them. */
export interface DemoSteering {
  /** The pause mid-drop: when it was sent and answered (ms since the demo's start), and what it held back. */
  pause?: {
    t: number;
    resumedT: number;
    /** Pause to resume on Redis' clock (PostgreSQL's sale_events.at). */
    pausedMs: number;
    /** Orders PostgreSQL holds with an accepted_at between the pause and the resume: must be 0. */
    acceptedWhilePaused: number;
    /** Purchase attempts the crowd was answered 503 "paused" (they came back after Retry-After, with their keys). */
    toldPaused: number;
  };
  /** The stock added once the sale sold out, and who bought it. */
  restock?: {
    t: number;
    units: number;
    /** Units of it sold: PostgreSQL's orders accepted after the restock (the sale was sold out before it). */
    sold: number;
    /** ...to people who had their place in line before the restock. */
    toLine: number;
    /** ...to people who came (or got a place) after it. */
    toNewcomers: number;
  };
  /** A control refused, not applied, or missing from PostgreSQL's sale_events. */
  problems: string[];
}

interface Sent {
  action: "pause" | "resume" | "update";
  version: number;
  t: number;
}

/**
 * The demo's operator: it steers the drop through the edge's API as the operator page does (one
 * Idempotency-Key per control, kept for its retries, X-Operator "demo"), and afterwards reads what
 * the controls did from PostgreSQL: the audit trail, and the orders around them.
 */
export class DemoOperator {
  private readonly sent: Sent[] = [];
  private readonly problems: string[] = [];
  private pauseSpan: { t: number; resumedT: number; pauseVersion: number; resumeVersion: number } | undefined;
  private restocked: { t: number; units: number; version: number } | undefined;

  constructor(
    private readonly edge: URL,
    private readonly adminToken: string,
    private readonly productId: string,
    private readonly since: () => number,
    private readonly events: DemoEvent[],
  ) {}

  /** Pauses the sale, waits `forMs`, resumes it. */
  async pauseFor(forMs: number): Promise<void> {
    const paused = await this.control("pause");
    if (!paused) return;
    const t = this.since();
    this.events.push({ t, label: `sale paused by "${DEMO_OPERATOR}"`, kind: "paused" });
    await sleep(forMs);
    const resumed = await this.control("resume");
    if (!resumed) return;
    const resumedT = this.since();
    this.events.push({ t: resumedT, label: `sale resumed by "${DEMO_OPERATOR}"`, kind: "resumed" });
    this.pauseSpan = { t, resumedT, pauseVersion: paused.version, resumeVersion: resumed.version };
  }

  async restock(units: number): Promise<void> {
    const steered = await this.control("update", { addStock: units });
    if (!steered) return;
    const t = this.since();
    this.events.push({ t, label: `restocked +${units} by "${DEMO_OPERATOR}"` });
    this.restocked = { t, units, version: steered.version };
  }

  /**
   * What the controls did, from PostgreSQL once the pipeline drained: each control's row in
   * sale_events (by "demo"), the orders accepted while paused (none may be), and who bought the
   * added units — people whose place in line came before the restock, or newcomers.
   */
  async outcome(databaseUrl: string, saleId: string, buyers: Map<string, Buyer>, toldPaused: number): Promise<DemoSteering> {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const rows = await db.query<{ version: number; action: string; by_label: string; at: Date }>(
        "select version, action, by_label, at from sale_events where sale_id = $1",
        [saleId],
      );
      const at = new Map(rows.rows.map((r) => [Number(r.version), r]));
      const problems = [...this.problems];
      for (const s of this.sent) {
        const row = at.get(s.version);
        if (!row || row.action !== s.action || row.by_label !== DEMO_OPERATOR)
          problems.push(`the ${s.action} (version ${s.version}) is not in PostgreSQL's sale_events as by "${DEMO_OPERATOR}"`);
      }
      const steering: DemoSteering = { problems };
      const p = this.pauseSpan;
      const [from, to] = [at.get(p?.pauseVersion ?? 0)?.at, at.get(p?.resumeVersion ?? 0)?.at];
      if (p && from && to) {
        const held = await db.query<{ n: string }>("select count(*) as n from orders where sale_id = $1 and accepted_at > $2 and accepted_at < $3", [
          saleId,
          from,
          to,
        ]);
        steering.pause = {
          t: p.t,
          resumedT: p.resumedT,
          pausedMs: to.getTime() - from.getTime(),
          acceptedWhilePaused: Number(held.rows[0]!.n),
          toldPaused,
        };
      }
      const r = this.restocked;
      const restockedAt = at.get(r?.version ?? 0)?.at;
      if (r && restockedAt) {
        const after = await db.query<{ user_id: string; quantity: number }>("select user_id, quantity from orders where sale_id = $1 and accepted_at > $2", [
          saleId,
          restockedAt,
        ]);
        let toLine = 0;
        let toNewcomers = 0;
        for (const o of after.rows) {
          const placed = buyers.get(o.user_id)?.placeIssuedAt;
          if (placed !== undefined && placed < restockedAt.getTime()) toLine += Number(o.quantity);
          else toNewcomers += Number(o.quantity);
        }
        steering.restock = { t: r.t, units: r.units, sold: toLine + toNewcomers, toLine, toNewcomers };
      }
      return steering;
    } finally {
      await db.end();
    }
  }

  /**
   * One control, with one key for all its tries: a connection lost on the way back is tried again
   * and the edge answers the first outcome. Refused or not applied, it is noted, and the demo fails.
   */
  private async control(action: Sent["action"], changes?: { addStock: number }): Promise<Steered | undefined> {
    const path = `/sales/${encodeURIComponent(this.productId)}${action === "update" ? "" : `/${action}`}`;
    const key = crypto.randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(new URL(path, this.edge), {
          method: action === "update" ? "PATCH" : "POST",
          headers: {
            authorization: `Bearer ${this.adminToken}`,
            "idempotency-key": key,
            "x-operator": DEMO_OPERATOR,
            ...(changes ? { "content-type": "application/json" } : {}),
          },
          ...(changes ? { body: JSON.stringify(changes) } : {}),
        });
        const body = (await res.json()) as Steered & { error?: string };
        if (res.status >= 500 && attempt < 3) throw new Error(`${res.status} ${body.error ?? ""}`);
        if (res.status !== 200 || !body.applied) {
          this.problems.push(`the ${action} was answered ${res.status} ${JSON.stringify(body)}`);
          return undefined;
        }
        this.sent.push({ action, version: body.version, t: this.since() });
        return body;
      } catch (error) {
        if (attempt === 3) {
          this.problems.push(`the ${action} got no answer: ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        }
        await sleep(500);
      }
    }
  }
}
