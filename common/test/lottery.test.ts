import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { drawPlaces, LOTTERY_HOW, lotteryCommitment, newLotterySeed, placeOf, verifyLottery } from "../src";

const entry = (i: number) => createHash("sha1").update(`buyer-${i}`).digest("hex");
const entries = (n: number) => Array.from({ length: n }, (_, i) => entry(i));
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("the pre-queue lottery", () => {
  it("is the algorithm the published text describes, recomputed here with node:crypto", () => {
    // What a third party would write from LOTTERY_HOW alone.
    const seed = newLotterySeed();
    const list = entries(50);
    const digest = sha([...list].sort().join("\n"));
    const drawKey = sha(`${seed}\n${digest}`);
    const theirs = [...list].sort((a, b) => (sha(`${drawKey}\n${a}`) < sha(`${drawKey}\n${b}`) ? -1 : 1));
    expect(drawPlaces(seed, list)).toEqual(theirs);
    expect(lotteryCommitment(seed)).toBe(sha(seed));
    expect(LOTTERY_HOW).toContain("SHA-256(drawKey + '\\n' + entry)");
  });

  it("does not depend on the order the entries arrived in, and reshuffles when one entry more comes in", () => {
    const seed = newLotterySeed();
    const list = entries(200);
    const places = drawPlaces(seed, list);
    expect(drawPlaces(seed, [...list].reverse())).toEqual(places);
    const withOneMore = drawPlaces(seed, [...list, entry(200)]).filter((e) => e !== entry(200));
    // One entry more changes the draw key: nearly everyone moves, so nobody can aim for a place.
    const unmoved = withOneMore.filter((e, i) => places[i] === e).length;
    expect(unmoved).toBeLessThan(20);
  });

  it("gives every entry every place equally often over many seeds (chi-square, 8 entries × 8 places)", () => {
    const list = entries(8);
    const counts = list.map(() => new Array<number>(8).fill(0));
    const draws = 8000;
    for (let d = 0; d < draws; d++) {
      drawPlaces(newLotterySeed(), list).forEach((e, place) => {
        counts[list.indexOf(e)]![place]!++;
      });
    }
    const expected = draws / 8;
    const chi2 = counts.flat().reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
    // 49 degrees of freedom ((8-1)²): the 99.99th percentile is about 97.
    expect(chi2).toBeLessThan(97);
  });

  it("verifies a published draw, and finds a tampered list, seed or commitment", () => {
    const seed = newLotterySeed();
    const published = { commitment: lotteryCommitment(seed), seed, places: drawPlaces(seed, entries(30)) };
    expect(verifyLottery(published)).toEqual({ ok: true, problems: [] });
    expect(verifyLottery(published, published.commitment).ok).toBe(true);

    const swapped = [...published.places];
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    expect(verifyLottery({ ...published, places: swapped }).problems).toEqual(["2 of 30 places differ from the draw recomputed from the seed and the entries"]);

    // An insider moved to the front: every place is recomputed, so the list no longer verifies.
    const insider = entry(999);
    expect(verifyLottery({ ...published, places: [insider, ...published.places] }).ok).toBe(false);
    // Dropping an entry reshuffles the rest.
    expect(verifyLottery({ ...published, places: published.places.slice(1) }).ok).toBe(false);

    const otherSeed = newLotterySeed();
    expect(verifyLottery({ ...published, seed: otherSeed }).problems[0]).toBe("SHA-256(seed) is not the commitment");
    // A seed and commitment both replaced after the fact: caught against the commitment recorded before the pre-queue opened.
    const rewritten = { commitment: lotteryCommitment(otherSeed), seed: otherSeed, places: drawPlaces(otherSeed, entries(30)) };
    expect(verifyLottery(rewritten).ok).toBe(true);
    expect(verifyLottery(rewritten, published.commitment).problems).toContain("the published commitment is not the one recorded before the pre-queue opened");

    expect(verifyLottery({ ...published, places: [...published.places, published.places[0]!] }).problems).toContain("an entry appears more than once");
    expect(placeOf(published, published.places[4]!)).toBe(5);
    expect(placeOf(published, insider)).toBeUndefined();
  });
});
