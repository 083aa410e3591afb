/** The bench's data: sales and orders exactly as the origin produces them (JSON, keyed by productId). */
import { randomUUID } from "node:crypto";
import type { OrderMessage, SaleStarted } from "@fluxgate/common";
import type { Message, Producer } from "kafkajs";

export function makeSales(run: string, products: number, stock: number): SaleStarted[] {
  return Array.from({ length: products }, (_, i) => ({
    v: 1,
    type: "sale",
    saleId: `bench-${run}-sale-${i}`,
    productId: `bench-${run}-p${i}`,
    quantity: stock,
    perUserLimit: 5,
    startedAt: Date.now(),
    added: 0,
  }));
}

export function makeOrder(sale: SaleStarted, acceptedAt = Date.now()): OrderMessage {
  const id = randomUUID();
  return {
    v: 1,
    type: "order",
    orderId: id,
    saleId: sale.saleId,
    productId: sale.productId,
    userId: `u-${id.slice(0, 12)}`,
    quantity: 1,
    idempotencyKey: `k-${id}`,
    acceptedAt,
    sale: { quantity: sale.quantity, perUserLimit: sale.perUserLimit, startedAt: sale.startedAt, added: sale.added },
  };
}

export const toMessage = (event: SaleStarted | OrderMessage): Message => ({ key: event.productId, value: JSON.stringify(event) });

/** Sends `events` in order, `chunk` per request (under the broker's 1 MB message.max.bytes), all in-sync replicas acknowledging each. */
export async function produceAll(
  producer: Producer,
  topic: string,
  events: Array<SaleStarted | OrderMessage>,
  onProgress: (sent: number) => void,
  chunk = 2_000,
) {
  for (let i = 0; i < events.length; i += chunk) {
    const part = events.slice(i, i + chunk);
    await producer.send({ topic, acks: -1, messages: part.map(toMessage) });
    onProgress(i + part.length);
  }
}
