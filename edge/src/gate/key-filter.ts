/**
 * A Bloom filter of Idempotency-Keys, written by gate.lua (SETBIT, in the same EVALSHA as the
 * decision) and read here. It answers "certainly not in the set" or "maybe": an isolate that knows
 * a sale is sold out answers a key the filter has never seen from memory, and sends a "maybe" to
 * Redis, which has the real record. Errors only ever cost a Redis command, never a wrong answer.
 *
 * Layout (shared with gate.lua): bit positions p_i = (h1 + i·h2) mod (7·bytes) for i < 14, h1 and
 * h2 the first two 32-bit words of SHA-1(key); position p is bit 1 + p mod 7 (from the top) of byte
 * ⌊p/7⌋. The top bit of every byte stays 0, so the filter is ASCII text and crosses the Upstash
 * REST API (base64 → UTF-8) unchanged.
 */
export const KEY_FILTER_HASHES = 14;

/** Bits per key the sale sizes its filters for (init-sale.lua): ~0.01% false positives at full load. */
export const KEY_FILTER_BITS_PER_KEY = 20;

export class KeyFilter {
  private constructor(
    private readonly bits: string,
    private readonly positions: number,
  ) {}

  /** Parses the gate's "<bytes>:<filter>" reply field; undefined when the gate sent none. */
  static parse(field: string | undefined): KeyFilter | undefined {
    if (!field) return undefined;
    const colon = field.indexOf(":");
    const bytes = Number(field.slice(0, colon));
    if (colon < 1 || !(bytes > 0)) return undefined;
    return new KeyFilter(field.slice(colon + 1), bytes * 7);
  }

  /** False when the probed key was certainly never added; true when it may have been. */
  mayContain(probe: KeyProbe): boolean {
    for (let i = 0; i < KEY_FILTER_HASHES; i++) {
      const p = (probe.h1 + i * probe.h2) % this.positions;
      // charCodeAt past the end is NaN: a byte Redis never wrote is all zeros.
      if ((this.bits.charCodeAt(Math.floor(p / 7)) & (0x80 >> (1 + (p % 7)))) === 0) return false;
    }
    return true;
  }
}

/** A key's two hash words: taken once per request, then any number of filters are asked synchronously. */
export interface KeyProbe {
  readonly h1: number;
  readonly h2: number;
}

export async function probeKey(key: string): Promise<KeyProbe> {
  const digest = new DataView(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key)));
  return { h1: digest.getUint32(0), h2: digest.getUint32(4) };
}
