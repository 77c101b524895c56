-- Ingest hardening (issue 8): the meter's interval is part of the registry, so the gateway
-- can require aligned windows; a rejected reading whose signature and chain link verify
-- still advances the meter's chain (zero credit), and the quarantine says so; a hole in a
-- chain that stayed open past the grace is skipped and recorded; re-judged rows are closed.
ALTER TABLE meters ADD COLUMN IF NOT EXISTS interval_s integer NOT NULL DEFAULT 900 CHECK (interval_s > 0 AND 86400 % interval_s = 0);

ALTER TABLE quarantine
    ADD COLUMN chain_advanced boolean NOT NULL DEFAULT false,  -- the meter's chain moved past it
    ADD COLUMN closed_at timestamptz;  -- re-judged and still refused, or overtaken: never re-read

-- a hole skipped after the gap grace: seq after_seq+1 .. before_seq-1 never arrived in time
CREATE TABLE chain_holes (
    meter_id      text NOT NULL REFERENCES meters (meter_id) ON DELETE CASCADE,
    after_seq     bigint NOT NULL,
    before_seq    bigint NOT NULL CHECK (before_seq > after_seq + 1),
    after_hash    text NOT NULL,
    skipped_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, after_seq)
);

DROP INDEX IF EXISTS quarantine_gap_open_idx;
CREATE INDEX quarantine_gap_open_idx ON quarantine (meter_id, seq)
    WHERE reason = 'chain_gap' AND readmitted_at IS NULL AND closed_at IS NULL;
