-- Holds (a sale's holdSeconds at the edge): an accepted order is held for payment until its hold
-- expires, then it is paid, or it expired or was cancelled and its units went back to the sale.
-- Each end is an OrderStatus event; `order_transitions` keeps them, `orders.status` the outcome.

-- 'accepted': final as accepted (a sale without holds); 'held': waiting for the shop's payment.
ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'accepted'
  CONSTRAINT orders_status_known CHECK (status IN ('accepted', 'held', 'paid', 'expired', 'cancelled'));
-- When the hold ends unless paid (Redis' clock); NULL for an order without a hold.
ALTER TABLE orders ADD COLUMN hold_expires_at timestamptz;
ALTER TABLE orders ADD CONSTRAINT orders_held_until CHECK (status <> 'held' OR hold_expires_at IS NOT NULL);

-- `stock` counts free units: an expired or cancelled order gives its units back. A released unit
-- is often sold again at the edge before its release reaches the worker (the new order is
-- forwarded at once, the gate's expiry is relayed from the outbox), so the stock of a sale with
-- holds may dip below 0 until the release arrives; a sale without holds never may.
ALTER TABLE sales ADD COLUMN has_holds boolean NOT NULL DEFAULT false;
ALTER TABLE sales DROP CONSTRAINT sales_stock_not_negative;
ALTER TABLE sales ADD CONSTRAINT sales_stock_not_negative CHECK (stock >= 0 OR has_holds);

-- One row per order and status, whatever the order of delivery and the number of redeliveries:
-- held -> paid | expired | cancelled, and paid -> cancelled by the operator. A transition that
-- cannot follow the order's status (an expiry after a payment) is kept here, and changes nothing.
CREATE TABLE order_transitions (
  order_id        text        NOT NULL REFERENCES orders (order_id),
  status          text        NOT NULL CHECK (status IN ('paid', 'expired', 'cancelled')),
  -- Who ended it: the shop's payment confirmation, the buyer, the operator, or the clock.
  by_label        text        NOT NULL CHECK (by_label IN ('shop', 'buyer', 'operator', 'expiry')),
  -- When Redis decided it (its clock).
  at              timestamptz NOT NULL,
  kafka_partition integer,
  kafka_offset    bigint,
  persisted_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, status)
);
