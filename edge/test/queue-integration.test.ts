import { describe, expect, it } from "vitest";
import { call, signedIn, tokenFor, countRedisCommands, initSale, order, sale, uniqueProduct } from "./helpers";

type Queued = { status: string; position: number; ticket: string; expired: boolean };

const ticketNumber = (token: string) => (JSON.parse(atob(token.split(".")[0]!.replaceAll("-", "+").replaceAll("_", "/"))) as number[])[2]!;

describe("the queue", { timeout: 60_000 }, () => {
  it("admits tickets in arrival order at the sale's rate; no fresh arrival jumps the line", async () => {
    const productId = uniqueProduct("fifo");
    // Everyone signs in before the sale opens: the timing below is the queue's, not the issuer's.
    await Promise.all(["opener", "newcomer", ...Array.from({ length: 8 }, (_, i) => `w${i}`)].map(tokenFor));
    // 5 admissions a second leave a loaded machine room to queue the eight before the line moves past them.
    await initSale({ productId, quantity: 100, ratePerSecond: 5, burst: 1 });
    expect((await order({ productId, userId: "opener" })).status).toBe(200);

    // Eight people arrive one after another while the bucket is empty: each gets the next place.
    const waiting: { userId: string; key: string; ticket: string; number: number }[] = [];
    for (let i = 0; i < 8; i++) {
      const userId = `w${i}`;
      const key = crypto.randomUUID();
      const res = await order({ productId, userId }, { key });
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe(`/waiting-room?productId=${productId}`);
      const body = await res.json<Queued>();
      expect(res.headers.get("x-queue-ticket")).toBe(body.ticket);
      expect(res.headers.get("set-cookie")).toContain(`fg_ticket_${productId}=`);
      waiting.push({ userId, key, ticket: body.ticket, number: ticketNumber(body.ticket) });
    }
    expect(waiting.map((w) => w.number)).toEqual([...waiting.map((w) => w.number)].sort((a, b) => a - b));

    // Everyone polls in reverse order, as impatient browsers would; a newcomer arrives meanwhile.
    // After every round the buyers must be a prefix of the line: nobody got in before someone
    // who queued earlier was let in too (the later ones poll first, so any overtaking would show).
    const bought = new Set<string>();
    let newcomer: number | undefined;
    for (let round = 0; round < 40 && bought.size < waiting.length; round++) {
      for (const w of [...waiting].reverse()) {
        if (bought.has(w.userId)) continue;
        const res = await order({ productId, userId: w.userId }, { key: w.key, ticket: w.ticket });
        if (res.status === 200) bought.add(w.userId);
        else expect(res.status).toBe(302);
      }
      expect(waiting.map((w) => bought.has(w.userId))).toEqual(waiting.map((_, i) => i < bought.size));
      if (round === 0) {
        const res = await order({ productId, userId: "newcomer" });
        expect(res.status).toBe(302);
        newcomer = ticketNumber((await res.json<Queued>()).ticket);
      }
      await scheduler.wait(60);
    }
    expect(bought.size).toBe(waiting.length);
    expect(newcomer).toBeGreaterThan(Math.max(...waiting.map((w) => w.number)));
  });

  it("refuses a forged ticket and one borrowed from another user", async () => {
    const productId = uniqueProduct("forge");
    await initSale({ productId, quantity: 10, ratePerSecond: 1, burst: 1 });
    await order({ productId, userId: "first" });
    const res = await order({ productId, userId: "owner" });
    expect(res.status).toBe(302);
    const { ticket } = await res.json<Queued>();

    const [payload, mac] = ticket.split(".");
    const tampered = `${payload!.slice(0, -2)}${payload!.endsWith("A") ? "B" : "A"}${payload!.slice(-1)}.${mac}`;
    const forged = await order({ productId, userId: "owner" }, { ticket: tampered });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ status: "invalid_ticket" });

    const borrowed = await order({ productId, userId: "thief" }, { ticket });
    expect(borrowed.status).toBe(403);
  });

  it("an admitted ticket that is not used in time expires and goes to the back", async () => {
    const productId = uniqueProduct("expire");
    await initSale({ productId, quantity: 10, ratePerSecond: 10, burst: 1, ticketTtlSeconds: 1 });
    await order({ productId, userId: "first" });
    const key = crypto.randomUUID();
    const res = await order({ productId, userId: "slow" }, { key });
    const { ticket } = await res.json<Queued>();
    // Admitted after ~100 ms; another arrival moves the watermark past it; then the TTL passes.
    await scheduler.wait(300);
    await order({ productId, userId: "bystander" });
    await scheduler.wait(1500);
    await order({ productId, userId: "bystander2" });
    const late = await order({ productId, userId: "slow" }, { key, ticket });
    expect(late.status).toBe(302);
    const body = await late.json<Queued>();
    expect(body.expired).toBe(true);
    expect(ticketNumber(body.ticket)).toBeGreaterThan(ticketNumber(ticket));
  });

  it("gives a double-clicked queued request the same place, not two", async () => {
    const productId = uniqueProduct("qdouble");
    await initSale({ productId, quantity: 10, ratePerSecond: 1, burst: 1 });
    await order({ productId, userId: "first" });
    const key = crypto.randomUUID();
    const answers = await Promise.all(Array.from({ length: 10 }, () => order({ productId, userId: "dbl" }, { key }).then((r) => r.json<Queued>())));
    expect(new Set(answers.map((a) => ticketNumber(a.ticket))).size).toBe(1);
  });

  it("tells queued users at once when the stock is gone", async () => {
    const productId = uniqueProduct("gone");
    await initSale({ productId, quantity: 2, ratePerSecond: 2, burst: 1 });
    expect((await order({ productId, userId: "u1" })).status).toBe(200);
    const second = await order({ productId, userId: "u2" });
    const third = await order({ productId, userId: "u3" });
    expect([second.status, third.status]).toEqual([302, 302]);
    const [t2, t3] = [(await second.json<Queued>()).ticket, (await third.json<Queued>()).ticket];
    await scheduler.wait(700);
    expect((await order({ productId, userId: "u2" }, { ticket: t2 })).status).toBe(200);
    // u3's turn has not come yet, but there is nothing left to wait for.
    const last = await order({ productId, userId: "u3" }, { ticket: t3 });
    expect(last.status).toBe(409);
    expect(await last.json()).toMatchObject({ status: "sold_out" });
  });
});

describe("standby: when the line already covers the stock", { timeout: 30_000 }, () => {
  type Standby = Queued & { standby?: boolean };
  const status = (productId: string, userId: string, ticket: string) =>
    signedIn(userId)
      .then((auth) => call(`/waiting-room/status?productId=${productId}&userId=${userId}`, { headers: { ...auth, "x-queue-ticket": ticket } }))
      .then((r) => r.json<{ state: string; position: number; standby?: boolean }>());

  it("newcomers wait on standby with no Redis call, and are told sold out like everyone", async () => {
    const productId = uniqueProduct("standby");
    await Promise.all(["first", ...Array.from({ length: 4 }, (_, i) => `q${i}`), ...Array.from({ length: 50 }, (_, i) => `late${i}`)].map(tokenFor));
    await initSale({ productId, quantity: 5, ratePerSecond: 2, burst: 1 });
    expect((await order({ productId, userId: "first" })).status).toBe(200);
    // Four units left, four people queue for them: the line now covers the stock.
    const line: { key: string; ticket: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const key = crypto.randomUUID();
      const res = await order({ productId, userId: `q${i}` }, { key });
      expect(res.status).toBe(302);
      line.push({ key, ticket: (await res.json<Queued>()).ticket });
    }

    const crowd = await countRedisCommands(() =>
      Promise.all(
        Array.from({ length: 50 }, (_, i) => order({ productId, userId: `late${i}` }).then(async (r) => ({ status: r.status, body: await r.json<Standby>() }))),
      ),
    );
    expect(crowd.commands).toBe(0);
    expect(crowd.result.every((r) => r.status === 302 && r.body.standby === true)).toBe(true);
    expect(crowd.result[0]!.body.position).toBeGreaterThanOrEqual(5);
    const late = crowd.result[0]!.body.ticket;
    expect((await status(productId, "late0", late)).state).toBe("waiting");

    // The four in line buy the rest as their turns come; standby learns it is over.
    const bought = new Set<number>();
    for (let round = 0; round < 30 && bought.size < 4; round++) {
      await scheduler.wait(300);
      for (const [i, q] of line.entries()) {
        if (!bought.has(i) && (await order({ productId, userId: `q${i}` }, q)).status === 200) bought.add(i);
      }
    }
    expect(await sale(productId)).toMatchObject({ remaining: 0 });
    await scheduler.wait(1100);
    expect((await status(productId, "late0", late)).state).toBe("sold_out");
  });

  it("invites standby back once the claims of people who walked away expire", async () => {
    const productId = uniqueProduct("standby-back");
    // Signed in before the sale: the timing below is the line's, not the issuer's.
    await Promise.all(["first", "patient", "gone0", "gone1", "gone2"].map(tokenFor));
    await initSale({ productId, quantity: 4, ratePerSecond: 4, burst: 1, ticketTtlSeconds: 1 });
    expect((await order({ productId, userId: "first" })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await order({ productId, userId: `gone${i}` })).status).toBe(302);
    const res = await order({ productId, userId: "patient" });
    expect(res.status).toBe(302);
    const body = await res.json<Standby>();

    // The three ahead are admitted at 4/s and hold their units for a second, then never come back:
    // their claims expire and the units go to whoever is next.
    await scheduler.wait(1000);
    expect((await status(productId, "patient", body.ticket)).state).toBe("waiting");
    await scheduler.wait(1500);
    const again = await order({ productId, userId: "patient" }, { ticket: body.ticket });
    expect(again.status).toBe(200);
  });
});
