-- Sales and the orders persisted for them. Runs in one transaction (migrate.ts), unqualified
-- names: the tables land in the connection's schema (DATABASE_SCHEMA).

-- One row per run of a sale (POST /init at the edge starts a new sale_id), created from the
-- SaleStarted event. `stock` is what is left; the worker takes from it what each batch inserted.
CREATE TABLE sales (
  sale_id        text        PRIMARY KEY,
  product_id     text        NOT NULL,
  initial_stock  integer     NOT NULL CHECK (initial_stock >= 0),
  stock          integer     NOT NULL,
  per_user_limit integer     NOT NULL CHECK (per_user_limit >= 1),
  started_at     timestamptz NOT NULL,
  -- Optimistic concurrency: every stock change bumps it and is conditional on the value read.
  version        integer     NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sales_stock_not_negative CHECK (stock >= 0),
  CONSTRAINT sales_stock_at_most_initial CHECK (stock <= initial_stock)
);

CREATE INDEX sales_product_id_idx ON sales (product_id);

-- One row per accepted order, whatever number of times Kafka delivered it (order_id is the key).
CREATE TABLE orders (
  order_id        text        PRIMARY KEY,
  sale_id         text        NOT NULL REFERENCES sales (sale_id),
  product_id      text        NOT NULL,
  user_id         text        NOT NULL,
  quantity        integer     NOT NULL CHECK (quantity > 0),
  idempotency_key text        NOT NULL,
  -- When the edge took the stock (Redis' clock).
  accepted_at     timestamptz NOT NULL,
  -- When the worker's transaction started (now()): accepted_at → persisted_at is the pipeline's latency.
  persisted_at    timestamptz NOT NULL DEFAULT now(),
  -- Where it was read from, for audits (the first delivery that got it in).
  kafka_partition integer,
  kafka_offset    bigint
);

CREATE INDEX orders_sale_id_idx ON orders (sale_id);
