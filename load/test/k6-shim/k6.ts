import { state } from "./runtime";

export function check<T>(value: T, checks: Record<string, (v: T) => boolean>): boolean {
  let all = true;
  for (const [name, fn] of Object.entries(checks)) {
    if (fn(value)) state.checks.passes++;
    else {
      state.checks.fails++;
      state.checks.failed.push(name);
      all = false;
    }
  }
  return all;
}

export function fail(message: string): never {
  throw new Error(message);
}

export function sleep(seconds: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, seconds * 1000));
}
