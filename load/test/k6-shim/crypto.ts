import { createHash } from "node:crypto";

/** k6/crypto's sha256(input, "hex"). */
export const sha256 = (input: string, encoding: "hex") => createHash("sha256").update(input).digest(encoding);
export default { sha256 };
