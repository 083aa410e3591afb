import { setTimeout as sleep } from "node:timers/promises";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch, screenshot } from "./browser";
import { adminToken, apiOrder, createdProducts, edgeUrl, forgetSales, initSale, shopToken, signIn, stockInRedis, tokenFor, uniqueProduct } from "./edge-api";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await forgetSales(createdProducts);
});

/**
 * A shopper's click on "Buy" in the storefront: its fetch follows the edge's 302 and comes back
 * with the ticket cookie the redirect set. Returns where the edge sent it: the waiting room,
 * named by the product alone.
 */
async function queueInBrowser(page: Page, productId: string, userId: string, quantity = 1): Promise<string> {
  await page.goto(`${edgeUrl}/health`);
  const landing = await page.evaluate(
    async ({ productId, userId, quantity }) => {
      const res = await fetch("/order", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID() },
        body: JSON.stringify({ productId, userId, quantity }),
      });
      return res.redirected ? res.url : `status ${res.status}`;
    },
    { productId, userId, quantity },
  );
  expect(landing).toBe(`${edgeUrl}/waiting-room?productId=${productId}`);
  return landing;
}

/** The storefront's click, then the browser lands where it was sent. */
async function buyInBrowser(page: Page, productId: string, userId: string): Promise<string> {
  const landing = await queueInBrowser(page, productId, userId);
  await page.goto(landing);
  return landing;
}

const positionOf = async (page: Page) => Number((await page.locator("#position").textContent()) ?? "NaN");
const buyButton = (page: Page) => page.locator("#buy-button");

/** Presses Buy whenever the page offers it (a click may find the place not reached yet), until the title says `until`. */
async function buyWhenOffered(page: Page, until: RegExp, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!until.test((await page.locator("#title").textContent()) ?? "")) {
    if (Date.now() > deadline) throw new Error(`no "${until}" within ${timeoutMs} ms: "${await page.locator("#message").textContent()}"`);
    const button = buyButton(page);
    if ((await button.isVisible()) && (await button.isEnabled())) await button.click({ timeout: 1000 }).catch(() => undefined);
    await page.waitForTimeout(200);
  }
}

/** Every POST /order the page sends from now on. */
function ordersSentBy(page: Page): string[] {
  const sent: string[] = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && new URL(request.url()).pathname === "/order") sent.push(request.headers()["idempotency-key"] ?? "");
  });
  return sent;
}

describe("the waiting room in a browser", () => {
  it("shows a place that goes down, admits the user and ends on Order accepted", async () => {
    const productId = uniqueProduct("wr-accept");
    // Everyone signs in before the sale opens: the line's pace is the sale's, not the issuer's.
    await Promise.all(["shopper", ...Array.from({ length: 7 }, (_, i) => `ahead-${i}`)].map(tokenFor));
    const page = await browser.newPage({ viewport: { width: 390, height: 780 } });
    await signIn(page, "shopper");
    await initSale({ productId, quantity: 20, ratePerSecond: 1.5, burst: 2 });
    // Two buyers take the bucket's tokens, five more queue ahead of our shopper and walk away.
    for (let i = 0; i < 7; i++) await apiOrder(productId, `ahead-${i}`);
    await buyInBrowser(page, productId, "shopper");
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("position")?.textContent ?? ""));
    const positions = [await positionOf(page)];
    await screenshot(page, "1-waiting");
    expect(positions[0]).toBeGreaterThan(0);
    await expect(page.locator('[aria-live="polite"]').first().textContent()).resolves.toMatch(/You are number \d+ in line/);

    // The line moves by itself; the order leaves only when the shopper presses Buy.
    while (!(await buyButton(page).isVisible())) {
      await page.waitForTimeout(300);
      if (await page.locator("#queue").isVisible()) positions.push(await positionOf(page));
      expect(positions.length).toBeLessThan(100);
    }
    await buyWhenOffered(page, /Order accepted/);
    await screenshot(page, "2-accepted");
    expect(Math.min(...positions)).toBeLessThan(positions[0]!);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    await expect(page.locator("#order code").textContent()).resolves.toMatch(/[0-9a-f-]{36}/);
    await page.close();
  });

  it("tells a queued user at once when the stock runs out", async () => {
    const productId = uniqueProduct("wr-sold");
    await initSale({ productId, quantity: 2, ratePerSecond: 1, burst: 1 });
    expect((await apiOrder(productId, "first")).code).toBe(200);
    const ahead = await apiOrder(productId, "ahead");
    expect(ahead.code).toBe(302);

    const page = await browser.newPage({ viewport: { width: 390, height: 780 } });
    await signIn(page, "too-late");
    await buyInBrowser(page, productId, "too-late");
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("position")?.textContent ?? ""));
    // The one ahead buys the last unit with its ticket when its turn comes.
    let last = ahead;
    for (let i = 0; i < 20 && last.code !== 200; i++) {
      await sleep(300);
      last = await apiOrder(productId, "ahead", ahead.ticket);
    }
    expect(last.code).toBe(200);
    await page.locator("#title", { hasText: "Sold out" }).waitFor({ timeout: 5000 });
    await screenshot(page, "3-sold-out");
    await page.close();
  });

  it("keeps the place across a reload", async () => {
    const productId = uniqueProduct("wr-reload");
    await Promise.all(["reloader", ...Array.from({ length: 6 }, (_, i) => `ahead-${i}`)].map(tokenFor));
    await initSale({ productId, quantity: 50, ratePerSecond: 0.2, burst: 1 });
    for (let i = 0; i < 6; i++) await apiOrder(productId, `ahead-${i}`);
    const context = await browser.newContext({ viewport: { width: 390, height: 780 } });
    const page = await context.newPage();
    await signIn(page, "reloader");
    await buyInBrowser(page, productId, "reloader");
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("position")?.textContent ?? ""));
    const before = await positionOf(page);
    const cookie = (await context.cookies()).find((c) => c.name === `fg_ticket_${productId}`)?.value;
    await page.reload();
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("position")?.textContent ?? ""));
    const after = await positionOf(page);
    // One bought with the bucket's token, five queued before: the shopper is sixth in line.
    expect(before).toBe(6);
    expect(after).toBeLessThanOrEqual(before);
    expect(after).toBeGreaterThanOrEqual(before - 1);
    expect((await context.cookies()).find((c) => c.name === `fg_ticket_${productId}`)?.value).toBe(cookie);
    await screenshot(page, "4-after-reload");
    await context.close();
  });

  it("solves the sale's proof of work in a Web Worker, with a progress bar, then buys", async () => {
    // The solver reports every 2,000 nonces (index.html): a solve luckier than two reports never
    // shows a bar between 0 and 100, so such a run proves nothing about the bar and is run again
    // on a fresh sale. 18 bits: about 260,000 hashes expected, a lucky run 1.5% of the time.
    const REPORT_EVERY = 2000;
    const page = await browser.newPage({ viewport: { width: 390, height: 780 } });
    await signIn(page, "person");
    // Every value the bar takes, and how many nonces the worker tried, recorded in the page
    // itself: a poll from here could miss a bar that moves between two looks.
    await page.addInitScript(() => {
      const seen = { values: [] as number[], tried: 0 };
      (window as unknown as { __proof: typeof seen }).__proof = seen;
      const Native = window.Worker;
      window.Worker = class extends Native {
        constructor(...args: ConstructorParameters<typeof Worker>) {
          super(...args);
          this.addEventListener("message", (e: MessageEvent<{ tried?: number }>) => {
            seen.tried = e.data.tried ?? seen.tried;
          });
        }
      };
      document.addEventListener("DOMContentLoaded", () => {
        const bar = document.getElementById("proof-progress") as HTMLProgressElement;
        new MutationObserver(() => seen.values.push(bar.value)).observe(bar, { attributes: true, attributeFilter: ["value"] });
      });
    });
    for (let run = 1; ; run++) {
      const productId = uniqueProduct("wr-pow");
      await initSale({ productId, quantity: 5, powDifficulty: 18 });
      // The storefront sends the shopper here; Buy asks for a place, gets the challenge and works on it.
      await page.goto(`${edgeUrl}/waiting-room?productId=${productId}`);
      await buyButton(page).click({ timeout: 10_000 });
      await page.locator("#proof").waitFor({ state: "visible", timeout: 10_000 });
      let shot = false;
      for (;;) {
        if (!shot && Number(await page.locator("#proof-progress").getAttribute("value")) > 0) shot = Boolean(await screenshot(page, "5-proof-of-work"));
        if ((await page.locator("#title").textContent())?.includes("Order accepted")) break;
        await page.waitForTimeout(50);
      }
      const seen = await page.evaluate(() => (window as unknown as { __proof: { values: number[]; tried: number } }).__proof);
      // The bar ends full; the page said "in line" (not accepted) until the worker was done.
      expect(seen.values.at(-1)).toBe(100);
      if (seen.tried <= 2 * REPORT_EVERY && run < 3) continue;
      // The bar moved while the worker searched.
      expect(seen.values.some((v) => v > 0 && v < 100)).toBe(true);
      break;
    }
    await screenshot(page, "6-proof-accepted");
    await page.close();
  });

  it("counts down in the pre-queue, shows the entry, then offers Buy at the start and buys with the drawn place", async () => {
    const productId = uniqueProduct("wr-prequeue");
    const page = await browser.newPage({ viewport: { width: 390, height: 780 } });
    await signIn(page, "early-bird");
    const startsAt = Date.now() + 5000;
    await initSale({ productId, quantity: 5, prequeueOpensAt: new Date().toISOString(), startsAt: new Date(startsAt).toISOString() });
    await page.goto(`${edgeUrl}/waiting-room?productId=${productId}`);
    await buyButton(page).click({ timeout: 5000 });
    await page.locator("#title", { hasText: "You are in the draw" }).waitFor({ timeout: 5000 });
    const entry = await page.locator("#entry").textContent();
    expect(entry).toMatch(/^[0-9a-f]{40}$/);
    const countdown = async () => {
      const [m, s] = ((await page.locator("#countdown").textContent()) ?? "").split(":").map(Number);
      return m! * 60 + s!;
    };
    const first = await countdown();
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(5);
    await page.waitForTimeout(1200);
    expect(await countdown()).toBeLessThan(first);
    await screenshot(page, "8-prequeue");
    // At the start the page offers Buy (it orders nothing by itself): the draw gives the only entry place 1, and it buys.
    await page.locator("#title", { hasText: "The sale has started" }).waitFor({ timeout: 15_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(startsAt);
    await buyWhenOffered(page, /Order accepted/);
    expect(await page.locator("#prequeue").isVisible()).toBe(false);
    await page.close();
  });

  it("orders nothing from a link, not even when the turn has come: only Buy orders, the ticket's units, once", async () => {
    const productId = uniqueProduct("wr-link");
    await Promise.all(["first", "victim"].map(tokenFor));
    const context = await browser.newContext({ viewport: { width: 390, height: 780 } });
    const page = await context.newPage();
    await signIn(page, "victim");
    await initSale({ productId, quantity: 10, perUserLimit: 5, ratePerSecond: 1, burst: 1 });
    expect((await apiOrder(productId, "first")).code).toBe(200);
    // The victim asked for 2 in the storefront and holds a place; someone sends them a link that names 3 and a key.
    await queueInBrowser(page, productId, "victim", 2);
    const sent = ordersSentBy(page);
    await page.goto(`${edgeUrl}/waiting-room?productId=${productId}&quantity=3&key=evil&userId=first`);
    await buyButton(page).waitFor({ state: "visible", timeout: 10_000 });
    await expect(buyButton(page).textContent()).resolves.toBe("Buy 2");
    await screenshot(page, "10-buy-now");
    // Well past the admission (one a second, the victim next in line): the page has sent nothing, nothing was bought.
    await page.waitForTimeout(3000);
    expect(sent).toEqual([]);
    expect(await stockInRedis(productId, ["victim"])).toEqual({ remaining: 9, bought: { victim: 0 } });
    await expect(page.locator("#title").textContent()).resolves.toBe("It is your turn");

    // Buy: the answer is lost on the way back (the order went through), so the shopper presses Buy again.
    let firstAnswer: { orderId?: string; quantity?: number } = {};
    await page.route("**/order", async (route) => {
      firstAnswer = (await (await route.fetch()).json()) as typeof firstAnswer;
      await route.abort("connectionreset");
    });
    await buyButton(page).click();
    await page.locator("#message", { hasText: "Press Buy again" }).waitFor({ timeout: 10_000 });
    await page.unroute("**/order");
    expect(firstAnswer).toMatchObject({ quantity: 2 });
    await buyButton(page).click();
    await page.locator("#title", { hasText: "Order accepted" }).waitFor({ timeout: 10_000 });
    // The same key both times: the second press got the first order back, not a second one.
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]);
    expect(sent[0]).not.toBe("evil");
    await expect(page.locator("#order code").textContent()).resolves.toBe(firstAnswer.orderId);
    expect(await stockInRedis(productId, ["victim"])).toEqual({ remaining: 7, bought: { victim: 2 } });

    // A reload shows the order again and sends nothing.
    await page.reload();
    await page.locator("#title", { hasText: "Order accepted" }).waitFor({ timeout: 10_000 });
    await expect(page.locator("#order code").textContent()).resolves.toBe(firstAnswer.orderId);
    await page.waitForTimeout(1500);
    expect(sent).toHaveLength(2);
    expect(await stockInRedis(productId, ["victim"])).toEqual({ remaining: 7, bought: { victim: 2 } });
    await context.close();
  });

  it("asks a visitor who is not signed in to sign in", async () => {
    const productId = uniqueProduct("wr-anon");
    await initSale({ productId, quantity: 5 });
    const page = await browser.newPage({ viewport: { width: 390, height: 780 } });
    await page.goto(`${edgeUrl}/waiting-room?productId=${productId}`);
    await page.locator("#title", { hasText: "Please sign in" }).waitFor({ timeout: 5000 });
    await page.close();
  });

  it("shows the operator the sale moving", async () => {
    const productId = uniqueProduct("wr-ops");
    await initSale({ productId, quantity: 30, ratePerSecond: 100 });
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${edgeUrl}/admin?productId=${productId}#token=${adminToken}`);
    await page.locator("#remaining", { hasText: "30" }).waitFor();
    for (let i = 0; i < 12; i++) await apiOrder(productId, `buyer-${i}`);
    await page.locator("#remaining", { hasText: "18" }).waitFor({ timeout: 5000 });
    await expect(page.locator("#sold").textContent()).resolves.toBe("12");
    await expect(page.locator("#rates path").count()).resolves.toBeGreaterThan(0);
    await expect(page.locator("#identity").textContent()).resolves.toContain("verified sign-ins");
    // Accepted is final in this sale: no holds to show.
    expect(await page.locator("#holds").isVisible()).toBe(false);
    await screenshot(page, "7-operator");
    await page.close();
  });

  it("shows the operator a hold as held, then paid once the shop confirms it", async () => {
    const productId = uniqueProduct("wr-ops-holds");
    await initSale({ productId, quantity: 5, holdSeconds: 60 });
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${edgeUrl}/admin?productId=${productId}#token=${adminToken}`);
    await page.locator("#hold-seconds", { hasText: "60" }).waitFor({ timeout: 5000 });
    const { code, orderId } = await apiOrder(productId, "holder");
    expect(code).toBe(200);
    await page.locator("#held", { hasText: /^1$/ }).waitFor({ timeout: 5000 });
    await expect(page.locator("#paid").textContent()).resolves.toBe("0");
    const paid = await fetch(`${edgeUrl}/sales/${productId}/orders/${orderId}/pay`, { method: "POST", headers: { authorization: `Bearer ${shopToken}` } });
    expect(paid.status).toBe(200);
    await page.locator("#paid", { hasText: /^1$/ }).waitFor({ timeout: 5000 });
    await expect(page.locator("#held").textContent()).resolves.toBe("0");
    await expect(page.locator("#hold-chart path").count()).resolves.toBeGreaterThan(0);
    await screenshot(page, "7b-operator-holds");
    await page.close();
  });

  it("shows the operator the pre-queue filling and the countdown to its draw", async () => {
    const productId = uniqueProduct("wr-ops-prequeue");
    const startsAt = Date.now() + 30_000;
    await initSale({ productId, quantity: 10, prequeueOpensAt: new Date().toISOString(), startsAt: new Date(startsAt).toISOString() });
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${edgeUrl}/admin?productId=${productId}#token=${adminToken}`);
    await page.locator("#pq-entries", { hasText: "0" }).waitFor();
    for (let i = 0; i < 3; i++) await apiOrder(productId, `early-${i}`);
    await page.locator("#pq-entries", { hasText: "3" }).waitFor({ timeout: 5000 });
    const [m, s] = ((await page.locator("#pq-countdown").textContent()) ?? "").split(":").map(Number);
    expect(m! * 60 + s!).toBeGreaterThan(20);
    expect(m! * 60 + s!).toBeLessThanOrEqual(30);
    await expect(page.locator("#pq-commitment").textContent()).resolves.toMatch(/[0-9a-f]{64}/);
    await screenshot(page, "9-operator-prequeue");
    await page.close();
  });
});
