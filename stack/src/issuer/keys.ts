import { generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { HonoJsonWebKey } from "hono/utils/jwt/jws";

/** One signing key of the dev issuer: the private JWK signs, the public one goes into the JWKS. */
export interface SigningKey {
  private: HonoJsonWebKey & { alg: "ES256"; kid: string };
  public: HonoJsonWebKey & { alg: "ES256"; kid: string; use: "sig" };
}

/** A shop rotates keys and keeps the previous ones published for tokens still in flight: so does the dev issuer. */
const KEPT_KEYS = 3;

function newKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kid = `dev-${randomUUID().slice(0, 8)}`;
  return {
    private: { ...(privateKey.export({ format: "jwk" }) as HonoJsonWebKey), alg: "ES256", kid },
    public: { ...(publicKey.export({ format: "jwk" }) as HonoJsonWebKey), alg: "ES256", kid, use: "sig" },
  };
}

/**
 * The dev issuer's keys, generated on this machine on first use and kept under FLUXGATE_HOME
 * (gitignored, mode 0600) so tokens stay valid across restarts of the stack. Newest first.
 */
export class KeyStore {
  private keys: SigningKey[];

  constructor(private readonly path: string) {
    this.keys = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as SigningKey[]) : [];
    if (this.keys.length === 0) this.rotate();
  }

  /** The key new tokens are signed with. */
  get current(): SigningKey {
    return this.keys[0]!;
  }

  jwks(): { keys: SigningKey["public"][] } {
    return { keys: this.keys.map((k) => k.public) };
  }

  /** A new signing key; the older ones stay published (up to KEPT_KEYS in all). */
  rotate(): SigningKey {
    this.keys = [newKey(), ...this.keys].slice(0, KEPT_KEYS);
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileSync(this.path, JSON.stringify(this.keys, null, 2), { mode: 0o600 });
    return this.current;
  }
}
