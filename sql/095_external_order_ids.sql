-- Orders created on chain directly (a wallet calling create_sell_order / create_buy_order
-- itself, not through the API) are booked by the indexer under their on-chain order id.
-- The API allocates ids from order_ids; capping that sequence below 2^40 keeps the two apart:
-- an order placed outside the API is booked only with an id in [2^40, 2^63), so the API can
-- never allocate an id such an order already holds (orders.id is the primary key).
ALTER SEQUENCE order_ids MAXVALUE 1099511627775;
