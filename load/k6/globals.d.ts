// k6 gives every script a console (logged to k6's output); @types/k6 leaves it to the DOM lib,
// which would also promise browser APIs k6 does not have.
declare const console: { log(...data: unknown[]): void; warn(...data: unknown[]): void; error(...data: unknown[]): void };
