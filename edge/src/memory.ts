import type { SaleSnapshot } from "./gate/gate";

/**
 * What this isolate learned about each sale from its last gate call. Sold-out is final for a
 * saleId, so it is answered from here without Redis; the bound below is how long an isolate may
 * keep saying so after an operator restarts the sale elsewhere.
 */
export const SOLD_OUT_MEMORY_MS = 3_000;

export interface Known {
  snapshot: SaleSnapshot;
  seenAt: number;
}

const sales = new Map<string, Known>();

export function remember(productId: string, snapshot: SaleSnapshot, now = Date.now()): void {
  const known = sales.get(productId);
  // Several gate calls resolve out of order; never let an older view replace a newer one of the same sale.
  if (known && known.snapshot.saleId === snapshot.saleId && known.snapshot.remaining < snapshot.remaining) {
    known.seenAt = now;
    return;
  }
  sales.set(productId, { snapshot, seenAt: now });
}

export function forget(productId: string): void {
  sales.delete(productId);
}

export function knownSale(productId: string): Readonly<Known> | undefined {
  return sales.get(productId);
}

export function soldOutInMemory(productId: string, now = Date.now()): boolean {
  const known = sales.get(productId);
  return known !== undefined && known.snapshot.remaining <= 0 && now - known.seenAt < SOLD_OUT_MEMORY_MS;
}
