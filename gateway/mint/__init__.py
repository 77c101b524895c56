"""Gateway mint path: every positive surplus minted exactly once on chain (DESIGN §4)."""

from gateway.mint._config import MintSettings
from gateway.mint._limits import MintLimits, RateLimiter
from gateway.mint._plan import MintJob, Outcome, Verdict, group_by_meter, judge_mint, split_behind
from gateway.mint._worker import MintWorker, MintWorkerConfig

__all__ = [
    "MintJob",
    "MintLimits",
    "MintSettings",
    "MintWorker",
    "MintWorkerConfig",
    "Outcome",
    "RateLimiter",
    "Verdict",
    "group_by_meter",
    "judge_mint",
    "split_behind",
]
