-- Operator actions on meters (issue 8): an audit row per action, and whether a meter is
-- enrolled on chain (then the chain is the source of truth and the mirror would undo a
-- database-only change of its status, key, edge or rated power: such changes are refused).
ALTER TABLE meters ADD COLUMN IF NOT EXISTS on_chain boolean NOT NULL DEFAULT false;

CREATE TABLE meter_events (
    id        bigserial PRIMARY KEY,
    meter_id  text NOT NULL REFERENCES meters (meter_id) ON DELETE CASCADE,
    action    text NOT NULL,   -- rebaseline, unrevoke, rotate_key, set_rated_power, set_interval, move_edge
    detail    text NOT NULL DEFAULT '',
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meter_events_meter_idx ON meter_events (meter_id, at);
