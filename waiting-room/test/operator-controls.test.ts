import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch, screenshot } from "./browser";
import { adminToken, apiOrder, createdProducts, edgeUrl, forgetSales, initSale, stockInRedis, tokenFor, uniqueProduct } from "./edge-api";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await forgetSales(createdProducts);
});

interface SentControl {
  method: string;
  path: string;
  key: string | undefined;
  operator: string | undefined;
  body: string | null;
}

/** Every control (POST pause/resume, PATCH) the page sends from now on, as the edge receives it. */
function controlsSentBy(page: Page): SentControl[] {
  const sent: SentControl[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (request.method() === "GET" || !path.startsWith("/sales/")) return;
    const headers = request.headers();
    sent.push({ method: request.method(), path, key: headers["idempotency-key"], operator: headers["x-operator"], body: request.postData() });
  });
  return sent;
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).textContent()) ?? "").trim();

describe("the operator steering a sale from the live page", () => {
  it("pauses, resumes, changes the pace and adds stock, each once, and lists every control with the operator's name", async () => {
    const productId = uniqueProduct("wr-steer");
    await Promise.all(["during-pause", "after-resume"].map(tokenFor));
    await initSale({ productId, quantity: 20, ratePerSecond: 2, burst: 1 });
    const page = await browser.newPage({ viewport: { width: 1100, height: 1500 } });
    const sent = controlsSentBy(page);
    await page.goto(`${edgeUrl}/admin?productId=${productId}#token=${adminToken}`);
    await page.locator("#badge", { hasText: "running" }).waitFor({ timeout: 5000 });
    expect(await page.locator("#resume").isVisible()).toBe(false);

    // A name with a space is refused on the page, and nothing is sent.
    await page.locator("#operator").fill("ops jane");
    await page.locator("#pause").click();
    await expect(text(page, "#operator-problem")).resolves.toContain("no spaces");
    expect(sent).toEqual([]);
    await page.locator("#operator").fill("ops-jane");
    await expect(text(page, "#operator-problem")).resolves.toBe("");

    // Pause: the badge says so, and a buyer is told the sale is paused.
    await page.locator("#pause").click();
    await page.locator("#badge", { hasText: "paused" }).waitFor({ timeout: 5000 });
    await expect(text(page, "#control-status")).resolves.toMatch(/^Paused/);
    expect(await page.locator("#pause").isVisible()).toBe(false);
    expect(await apiOrder(productId, "during-pause")).toMatchObject({ code: 503, outcome: "paused" });
    await page.locator("#rates .pause-band").first().waitFor({ timeout: 5000 });
    await screenshot(page, "11-operator-paused");

    // Resume: running again, and the sale sells.
    await page.locator("#resume").click();
    await page.locator("#badge", { hasText: "running" }).waitFor({ timeout: 5000 });
    expect((await apiOrder(productId, "after-resume")).code).toBe(200);
    await page.locator("#remaining", { hasText: "19" }).waitFor({ timeout: 5000 });

    // The pace: the figures follow the new rate.
    await page.locator("#set-rate").fill("7");
    await page.locator("#apply").click();
    await page.locator("#rate-now", { hasText: /^7$/ }).waitFor({ timeout: 5000 });
    await expect(text(page, "#admission")).resolves.toMatch(/ \/ 7$/);
    await expect(page.locator("#set-rate").getAttribute("placeholder")).resolves.toBe("7");

    // A control the edge refuses shows its error and changes nothing.
    const version = await text(page, "#version");
    await page.locator("#set-ends").fill("2001-01-01T00:00");
    await page.locator("#apply").click();
    await page.locator("#control-status", { hasText: "Refused (400)" }).waitFor({ timeout: 5000 });
    await expect(text(page, "#control-status")).resolves.toContain("endsAt must be in the future");
    await expect(text(page, "#version")).resolves.toBe(version);
    await page.locator("#set-ends").fill("");

    // Add stock with a double click, and the first answer lost on the way back (the stock was added):
    // the page sends the click's control again with the same key, and it applies once.
    let patches = 0;
    await page.route(`**/sales/${productId}`, async (route) => {
      if (route.request().method() !== "PATCH") return route.continue();
      const response = await route.fetch();
      if (++patches === 1) return route.abort("connectionreset");
      return route.fulfill({ response });
    });
    const before = sent.length;
    await page.locator("#add-units").fill("5");
    await page.locator("#add-stock").dblclick();
    await page.locator("#control-status", { hasText: "Added 5 units" }).waitFor({ timeout: 10_000 });
    await page.unroute(`**/sales/${productId}`);
    const restocks = sent.slice(before);
    expect(restocks).toHaveLength(2);
    expect(new Set(restocks.map((c) => c.key)).size).toBe(1);
    expect(restocks.map((c) => JSON.parse(c.body ?? "{}"))).toEqual([{ addStock: 5 }, { addStock: 5 }]);
    await page.locator("#remaining", { hasText: "24" }).waitFor({ timeout: 5000 });
    await expect(text(page, "#added")).resolves.toBe("5");
    expect((await stockInRedis(productId, [])).remaining).toBe(24);

    // Every control once, newest first, with who sent it and what it changed.
    const rows = await page.locator("#control-log tr").evaluateAll((trs) => trs.map((tr) => Array.from(tr.children, (td) => td.textContent ?? "")));
    expect(rows.map(([, who, action, what, v]) => [who, action, what, v])).toEqual([
      ["ops-jane", "update", "+5 units (5 added in all)", "4"],
      ["ops-jane", "update", "rate 7/s", "3"],
      ["ops-jane", "resume", "resumed", "2"],
      ["ops-jane", "pause", "paused: nothing sold, every place kept", "1"],
    ]);
    expect(sent.every((c) => c.operator === "ops-jane" && c.key)).toBe(true);
    // The pause stays marked on the accepted/s chart after the resume.
    await expect(page.locator("#rates .pause-band").count()).resolves.toBe(1);
    await screenshot(page, "12-operator-controls");
    await page.close();
  });
});
