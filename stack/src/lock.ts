import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "./daemon";
import type { StackHome } from "./home";

function holderAlive(path: string): boolean {
  try {
    process.kill(Number(readFileSync(path, "utf8")), 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` while holding <home>/run/<name>.lock, so two `up`s (a user's and a test run's) never
 * both start a broker. A lock left by a dead process is taken over.
 */
export async function withLock<T>(home: StackHome, name: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const path = join(home.run, `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (!holderAlive(path)) rmSync(path, { force: true });
      else if (Date.now() > deadline) throw new Error(`another stack command holds ${path}`);
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}
