-- Steering a live sale (SaleSteered events): stock operators add, and the audit trail of every control.

-- Units added to the sale by operators so far: a level the worker only ever raises, to the highest
-- `sale.added` any event or order carried, adding the difference to `stock` — exactly once, in any
-- order of delivery.
ALTER TABLE sales ADD COLUMN added_stock integer NOT NULL DEFAULT 0 CONSTRAINT sales_added_stock_not_negative CHECK (added_stock >= 0);
ALTER TABLE sales DROP CONSTRAINT sales_stock_at_most_initial;
ALTER TABLE sales ADD CONSTRAINT sales_stock_at_most_initial_and_added CHECK (stock <= initial_stock + added_stock);

-- One row per control (pause, resume, update) of a sale: who, when (Redis' clock), what changed.
-- `version` is the sale's settings version after the control, one per control: a redelivery finds
-- its row, and controls delivered out of order are all kept.
CREATE TABLE sale_events (
  sale_id         text        NOT NULL REFERENCES sales (sale_id),
  version         integer     NOT NULL CHECK (version >= 1),
  action          text        NOT NULL CHECK (action IN ('pause', 'resume', 'update')),
  -- The operator's label (the admin token's name, or one they gave).
  by_label        text        NOT NULL,
  at              timestamptz NOT NULL,
  -- What an update changed (ratePerSecond, burst, endsAt, ticketTtlSeconds, addStock); {} otherwise.
  changes         jsonb       NOT NULL,
  kafka_partition integer,
  kafka_offset    bigint,
  persisted_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sale_id, version)
);
