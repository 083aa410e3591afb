import { OperatorLabel } from "@fluxgate/common";
import { z } from "zod";

/**
 * The settings an operator gives a sale, one definition for `POST /init` (which starts it) and
 * `PATCH /sales/:productId` (which changes it live).
 */
export const SaleSettings = {
  ratePerSecond: z.number().positive().max(1_000_000),
  burst: z.number().int().min(1).max(1_000_000),
  /** When the sale ends even with stock left (the operator can also close it: POST /sales/:productId/close). */
  endsAt: z.iso.datetime({ offset: true }),
  /** How long an admitted ticket may wait before buying; then its slot goes to the next in line. */
  ticketTtlSeconds: z.number().int().min(1).max(3600),
};

/** Who sent an operator's control, as the audit trail (sale_events) names them: `X-Operator`, "admin" when absent. */
export const OperatorHeader = OperatorLabel.default("admin");
