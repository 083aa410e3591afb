import type { OrderStatus } from "@fluxgate/common";

/** An order's status in PostgreSQL: 'accepted' is final as accepted (no hold), 'held' waits for its payment. */
export type OrderState = "accepted" | "held" | OrderStatus["status"];

/** What a transition does to the order it bears on. */
export type TransitionOutcome =
  /** The order moves on; `released` when its units go back to the sale's stock. */
  | { kind: "applied"; status: OrderState; released: boolean }
  /** It cannot follow the order's status (an expiry after a payment): kept in order_transitions, changing nothing. */
  | { kind: "conflict" };

/**
 * The one place that says which end may follow which, as Redis decides them (common/src/holds-lua.ts):
 * held -> paid | expired | cancelled, and paid -> cancelled by the operator (the shop refunds).
 * Whatever the order of delivery, a Redis history ends in the same status: a cancel of a paid
 * order arriving before the payment leaves the payment nothing to change.
 */
export function applyTransition(current: OrderState, status: OrderStatus["status"], by: OrderStatus["by"]): TransitionOutcome {
  if (current === "held") return { kind: "applied", status, released: status !== "paid" };
  if (current === "paid" && status === "cancelled" && by === "operator") return { kind: "applied", status, released: true };
  return { kind: "conflict" };
}
