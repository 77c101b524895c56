-- A reading quarantined as chain_gap (its predecessor was missing for longer than the
-- gateway's grace) is not lost for good: when the predecessor is accepted later, the gateway
-- judges it again, and when it passes it is stored and marked here.
ALTER TABLE quarantine ADD COLUMN readmitted_at timestamptz;
CREATE INDEX quarantine_gap_open_idx ON quarantine (meter_id, seq)
    WHERE reason = 'chain_gap' AND readmitted_at IS NULL;
