-- A failed settlement gives the orders back what the chain still holds for them (issue 11):
-- the settler syncs each order's remaining amount to the chain and sets ``requeue`` when the
-- order sits in the matcher's engine with a stale amount; the matcher then takes it out of
-- the engine and enters it again (at the back of its price level). ``settle_failures``
-- bounds the retries of an order whose trades keep failing.
ALTER TABLE orders ADD COLUMN requeue boolean NOT NULL DEFAULT false;
ALTER TABLE orders ADD COLUMN settle_failures integer NOT NULL DEFAULT 0;
CREATE INDEX orders_requeue_idx ON orders (market) WHERE requeue;
