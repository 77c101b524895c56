-- The settler packs several trades' match_order instructions into one transaction. A packed
-- transaction that fails as a whole (or is refused) moves nothing, so its trades come back
-- 'pending' with solo = true: each is then sent alone, which isolates the one the chain
-- refuses and settles the others (the mint worker's fallback).
ALTER TABLE trades ADD COLUMN solo boolean NOT NULL DEFAULT false;
