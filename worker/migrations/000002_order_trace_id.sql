-- The W3C trace id of each order (the edge's traceparent, carried in the order message): the key an
-- SRE follows from the edge's log line to this row. NULL for orders that came without one (orders
-- from before it, or from tools). parse.ts only lets a valid id through; the CHECK is the last line.
ALTER TABLE orders ADD COLUMN trace_id text CONSTRAINT orders_trace_id_format CHECK (trace_id ~ '^[0-9a-f]{32}$');

-- "Which order is trace X?" answered without scanning every order of every sale.
CREATE INDEX orders_trace_id_idx ON orders (trace_id) WHERE trace_id IS NOT NULL;
