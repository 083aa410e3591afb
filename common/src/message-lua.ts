import type { OrderMessage, SaleStarted, SaleSteered, SaleTerms } from "./order";

/**
 * The messages as the gate's Lua scripts write them into the outbox. Redis has no JSON encoder
 * that keeps large integers exact (cjson prints 14 significant digits), so the scripts concatenate
 * JSON text; this is the one place that spelling lives, field for field beside the schemas in
 * order.ts. Each argument is a Lua expression; edge/test/scripts-integration.test.ts parses what
 * the scripts emit with the strict schemas.
 */
type Lua = string;
/**
 * `optional`: a text field left out (key and all) when the Lua value is "". Never the first field.
 * `json`: a Lua string that already is JSON text (the script's own cjson.encode of a table), as is.
 */
type Json = { text: Lua } | { optional: Lua } | { optionalInt: Lua } | { int: Lua } | { json: Lua } | { fixed: string | number } | { object: Fields };
type Fields = [string, Json][];

const text = (expr: Lua): Json => ({ text: expr });
const int = (expr: Lua): Json => ({ int: expr });

function luaJson(fields: Fields): Lua {
  const parts: Lua[] = [];
  let literal = "{";
  const flush = () => {
    if (literal) parts.push(`'${literal}'`);
    literal = "";
  };
  fields.forEach(([name, value], i) => {
    const key = `${i ? "," : ""}"${name}":`;
    if ("optional" in value) {
      flush();
      parts.push(`(${value.optional} ~= '' and ('${key}' .. cjson.encode(${value.optional})) or '')`);
      return;
    }
    if ("optionalInt" in value) {
      // 0 leaves the field out (key and all).
      flush();
      parts.push(`(${value.optionalInt} ~= 0 and ('${key}' .. string.format('%d', ${value.optionalInt})) or '')`);
      return;
    }
    literal += key;
    if ("fixed" in value) literal += JSON.stringify(value.fixed);
    else if ("object" in value) {
      flush();
      parts.push(luaJson(value.object));
    } else {
      flush();
      if ("json" in value) parts.push(`(${value.json})`);
      else parts.push("text" in value ? `cjson.encode(${value.text})` : `string.format('%d', ${value.int})`);
    }
  });
  literal += "}";
  flush();
  return parts.join(" .. ");
}

type LuaOf<T> = { [K in keyof T]: Lua };

/** A sale's terms; `added` left out means none added (a sale start, a script that does not track it). */
type TermsLua = LuaOf<Omit<SaleTerms, "added">> & { added?: Lua };

const termsJson = (t: TermsLua): Fields => [
  ["quantity", int(t.quantity)],
  ["perUserLimit", int(t.perUserLimit)],
  ["startedAt", int(t.startedAt)],
  ["added", t.added === undefined ? { fixed: 0 } : int(t.added)],
];

/** An OrderMessage, in Lua. `sale.added`: the units added to the sale so far (the sale hash's `added`). */
export function orderMessageLua(
  o: LuaOf<Required<Omit<OrderMessage, "v" | "type" | "sale" | "holdExpiresAt">>> & { sale: TermsLua; holdExpiresAt?: Lua },
): Lua {
  return luaJson([
    ["v", { fixed: 1 }],
    ["type", { fixed: "order" }],
    ["orderId", text(o.orderId)],
    ["saleId", text(o.saleId)],
    ["productId", text(o.productId)],
    ["userId", text(o.userId)],
    ["quantity", int(o.quantity)],
    ["idempotencyKey", text(o.idempotencyKey)],
    ["acceptedAt", int(o.acceptedAt)],
    // The sale's terms ride along, so the worker can create the sale even before its (late) sale event.
    ["sale", { object: termsJson(o.sale) }],
    // 0 (a sale without holds) leaves the field out: the order is final as accepted.
    ["holdExpiresAt", { optionalInt: o.holdExpiresAt ?? "0" }],
    // "" when the caller sent no trace context: then the order has no traceparent field at all.
    ["traceparent", { optional: o.traceparent }],
  ]);
}

/** An OrderStatus, in Lua: `order` is the accepted order's JSON text, as the gate stored it. */
export function orderStatusLua(s: { orderId: Lua; saleId: Lua; productId: Lua; status: Lua; by: Lua; at: Lua; order: Lua }): Lua {
  return luaJson([
    ["v", { fixed: 1 }],
    ["type", { fixed: "order_status" }],
    ["orderId", text(s.orderId)],
    ["saleId", text(s.saleId)],
    ["productId", text(s.productId)],
    ["status", text(s.status)],
    ["by", text(s.by)],
    ["at", int(s.at)],
    ["order", { json: s.order }],
  ]);
}

/** A SaleStarted event, in Lua (a start adds nothing: `added` is 0). */
export function saleStartedLua(s: LuaOf<Omit<SaleStarted, "v" | "type" | "added">>): Lua {
  return luaJson([["v", { fixed: 1 }], ["type", { fixed: "sale" }], ["saleId", text(s.saleId)], ["productId", text(s.productId)], ...termsJson(s)]);
}

/**
 * A SaleSteered event, in Lua. `changes` is a Lua string that already is the JSON object of what
 * changed (`cjson.encode` of a table holding only those settings; an empty table encodes as `{}`).
 * cjson prints numbers with 14 significant digits: exact for every integer below 10^14 (an `endsAt`
 * in ms up to the year 5138). `sale.added` is the level after this control.
 */
export function saleSteeredLua(s: LuaOf<Omit<SaleSteered, "v" | "type" | "changes" | "sale">> & { changes: Lua; sale: LuaOf<SaleTerms> }): Lua {
  return luaJson([
    ["v", { fixed: 1 }],
    ["type", { fixed: "sale_steered" }],
    ["saleId", text(s.saleId)],
    ["productId", text(s.productId)],
    ["version", int(s.version)],
    ["action", text(s.action)],
    ["by", text(s.by)],
    ["at", int(s.at)],
    ["changes", { json: s.changes }],
    ["sale", { object: termsJson(s.sale) }],
  ]);
}
