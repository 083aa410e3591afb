/**
 * HMAC-SHA256 over everything the origin acts on in a forward — timestamp, method, path, outbox
 * entry id and body — the way the edge signs it and the origin checks it: a captured forward
 * replayed with another outbox id (or to another path) no longer verifies. Web Crypto, so the same
 * code runs in workerd and in Node.
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

/** What a signed request asks the origin to do. */
export interface SignedRequest {
  method: string;
  /** The URL's path, e.g. "/orders". */
  path: string;
  /** The outbox entry the origin marks done once Kafka has the body; none for a request without one. */
  outboxId?: string | undefined;
  body: string;
}

// Newline-separated: no method, path or header value can contain one, and the body comes last.
const signedText = (timestamp: number, r: SignedRequest) => `${timestamp}\n${r.method.toUpperCase()}\n${r.path}\n${r.outboxId ?? ""}\n${r.body}`;

export async function signRequest(secret: string, timestamp: number, request: SignedRequest): Promise<string> {
  return toHex(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(signedText(timestamp, request))));
}

/** The headers of a signed request (timestamp, signature, the outbox id when there is one). */
export async function signedHeaders(secret: string, request: SignedRequest, timestamp = Date.now()): Promise<Record<string, string>> {
  return {
    [SignatureHeaders.timestamp]: String(timestamp),
    [SignatureHeaders.signature]: await signRequest(secret, timestamp, request),
    ...(request.outboxId === undefined ? {} : { [OUTBOX_ID_HEADER]: request.outboxId }),
  };
}

/** True when `signature` is ours for this request and the timestamp is within `toleranceMs` of `now` (replays expire). */
export async function verifyRequest(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  request: SignedRequest,
  now = Date.now(),
  toleranceMs = 300_000,
): Promise<boolean> {
  const ts = Number(timestamp);
  if (!Number.isSafeInteger(ts) || Math.abs(now - ts) > toleranceMs || !signature) return false;
  const mac = fromHex(signature);
  if (!mac) return false;
  // crypto.subtle.verify compares in constant time.
  return crypto.subtle.verify("HMAC", await hmacKey(secret), mac, encoder.encode(signedText(ts, request)));
}
