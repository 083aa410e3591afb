import { describe, expect, it } from "vitest";
import { type ForwardAnswer, RecentForwards, REPLAY_WINDOW_MS } from "../src/recent-forwards";

const produced: ForwardAnswer = { status: 202, body: { status: "produced" } };

describe("the forwards an origin remembers", () => {
  it("answers a copy within the replay window, and forgets it after", async () => {
    const clock = { t: 0 };
    const recent = new RecentForwards(() => clock.t);
    recent.remember("a", Promise.resolve(produced));
    clock.t += REPLAY_WINDOW_MS - 1;
    expect(await recent.seen("a")).toEqual(produced);
    clock.t += 1;
    // Past the window the signature is refused anyway; an edge retry this late is produced again.
    expect(recent.seen("a")).toBeUndefined();
  });

  it("stays within its bound, the oldest forgotten first, expired ones dropped as new ones come", async () => {
    const clock = { t: 0 };
    const recent = new RecentForwards(() => clock.t, 100);
    for (let i = 0; i < 1_000; i++) recent.remember(`k${i}`, Promise.resolve(produced));
    expect(recent.size).toBe(100);
    expect(recent.seen("k899")).toBeUndefined();
    expect(recent.seen("k900")).toBeDefined();
    clock.t += REPLAY_WINDOW_MS;
    recent.remember("late", Promise.resolve(produced));
    expect(recent.size).toBe(1);
  });

  it("forgets a failed produce once answered, so the next retry produces", async () => {
    const recent = new RecentForwards(() => 0);
    const failed = Promise.resolve<ForwardAnswer>({ status: 503, body: {} });
    recent.remember("a", failed);
    // A copy arriving meanwhile shares the failure...
    expect(recent.seen("a")).toBe(failed);
    await failed;
    await Promise.resolve();
    // ...a later one tries again.
    expect(recent.seen("a")).toBeUndefined();
  });
});
