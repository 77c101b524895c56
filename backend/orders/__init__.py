"""Orders: preparation (rules, balance, unsigned escrow transaction), cancel, queries."""
