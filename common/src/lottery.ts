import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

/**
 * The pre-queue's lottery, one definition for the edge (which draws it at the sale's start) and
 * for anyone who checks it (`npm run verify-lottery`, or a few lines of their own):
 *
 *   commitment = SHA-256(seed)                          published before the pre-queue opens
 *   digest     = SHA-256(the entries, sorted, joined by "\n")
 *   drawKey    = SHA-256(seed + "\n" + digest)
 *   rank(e)    = SHA-256(drawKey + "\n" + e)
 *   places     = the entries ordered by rank (ascending hex); place 1 is first in line
 *
 * Every hash is lowercase hex of SHA-256 over the UTF-8 text. The order depends on the seed,
 * which nobody outside knows before the start, and on the whole list of entries, fixed at the
 * start: whoever learns the seed early still cannot compute a place before the last entry is in,
 * and one entry more or less reshuffles everyone. Arrival time plays no part.
 *
 * SHA-256 from @noble/hashes (synchronous): the draw hashes every entry once, and a promise per
 * hash (WebCrypto) costs tens of microseconds each in workerd and Node.
 */
export const LOTTERY_ALGORITHM = "fluxgate-lottery-v1";

export const LOTTERY_HOW =
  "commitment = SHA-256(seed); digest = SHA-256(entries sorted ascending, joined by '\\n'); drawKey = SHA-256(seed + '\\n' + digest); " +
  "places = entries ordered by SHA-256(drawKey + '\\n' + entry) ascending, place 1 first; every hash lowercase hex of SHA-256 over UTF-8";

/** An entry as the gate writes it (gate.lua: SHA-1 of a per-sale secret salt and the buyer's sub): 40 hex digits. */
export const LOTTERY_ENTRY_LENGTH = 40;
export const LOTTERY_ENTRY = /^[0-9a-f]{40}$/;

export const sha256Hex = (text: string) => bytesToHex(sha256(utf8ToBytes(text)));

/** A fresh secret seed: 32 random bytes, hex. */
export const newLotterySeed = () => bytesToHex(crypto.getRandomValues(new Uint8Array(32)));

export const lotteryCommitment = (seed: string) => sha256Hex(seed);

export const entriesDigest = (entries: readonly string[]) => sha256Hex([...entries].sort().join("\n"));

/** The entries in the order of their places (index 0 = place 1). */
export function drawPlaces(seed: string, entries: readonly string[]): string[] {
  const drawKey = sha256Hex(`${seed}\n${entriesDigest(entries)}`);
  const ranked = entries.map((entry) => ({ entry, rank: sha256Hex(`${drawKey}\n${entry}`) }));
  ranked.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.entry < b.entry ? -1 : 1));
  return ranked.map((r) => r.entry);
}

/** What GET /sales/:productId/prequeue publishes once the line is drawn. */
export interface PublishedLottery {
  commitment: string;
  seed: string;
  /** The entries in the order of their places, as the gate admits them. */
  places: readonly string[];
}

export interface LotteryCheck {
  ok: boolean;
  /** What does not hold, in words; empty when ok. */
  problems: string[];
}

/**
 * Recomputes every place from the published seed and entries and checks the seed against the
 * commitment (the one recorded before the pre-queue opened, when given, else the published one).
 */
export function verifyLottery(published: PublishedLottery, recordedCommitment?: string): LotteryCheck {
  const problems: string[] = [];
  const commitment = recordedCommitment ?? published.commitment;
  if (recordedCommitment !== undefined && recordedCommitment !== published.commitment)
    problems.push("the published commitment is not the one recorded before the pre-queue opened");
  if (lotteryCommitment(published.seed) !== commitment) problems.push("SHA-256(seed) is not the commitment");
  const malformed = published.places.filter((e) => !LOTTERY_ENTRY.test(e)).length;
  if (malformed > 0) problems.push(`${malformed} entries are not 40 hex digits`);
  if (new Set(published.places).size !== published.places.length) problems.push("an entry appears more than once");
  const expected = drawPlaces(published.seed, published.places);
  const moved = expected.reduce((n, entry, i) => n + (published.places[i] === entry ? 0 : 1), 0);
  if (moved > 0) problems.push(`${moved} of ${expected.length} places differ from the draw recomputed from the seed and the entries`);
  return { ok: problems.length === 0, problems };
}

/** An entry's place (1-based) in a published lottery, or undefined when it is not in it. */
export function placeOf(published: Pick<PublishedLottery, "places">, entry: string): number | undefined {
  const i = published.places.indexOf(entry);
  return i < 0 ? undefined : i + 1;
}
