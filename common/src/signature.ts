/**
 * HMAC-SHA256 over "<timestamp>.<body>", the way the edge signs what it forwards and the origin
 * checks it. Web Crypto, so the same code runs in workerd and in Node.
 */
export const SignatureHeaders = {
  timestamp: "x-fluxgate-timestamp",
  signature: "x-fluxgate-signature",
} as const;

/** The outbox entry a forward carries, so the origin can mark it done once Kafka has it. */
export const OUTBOX_ID_HEADER = "x-fluxgate-outbox-id";

const encoder = new TextEncoder();
// Spelled this way because Node's and workerd's type libraries name the key type differently.
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const keys = new Map<string, Promise<HmacKey>>();

export function hmacKey(secret: string): Promise<HmacKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

const toHex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(hex: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^(?:[0-9a-f]{2})+$/.test(hex)) return undefined;
  return Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));
}

export async function signBody(secret: string, timestamp: number, body: string): Promise<string> {
  return toHex(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${timestamp}.${body}`)));
}

/** True when `signature` is ours for this body and the timestamp is within `toleranceMs` of `now` (replays expire). */
export async function verifyBody(
  secret: string,
  timestamp: string | undefined,
  body: string,
  signature: string | undefined,
  now = Date.now(),
  toleranceMs = 300_000,
): Promise<boolean> {
  const ts = Number(timestamp);
  if (!Number.isSafeInteger(ts) || Math.abs(now - ts) > toleranceMs || !signature) return false;
  const mac = fromHex(signature);
  if (!mac) return false;
  // crypto.subtle.verify compares in constant time.
  return crypto.subtle.verify("HMAC", await hmacKey(secret), mac, encoder.encode(`${ts}.${body}`));
}
