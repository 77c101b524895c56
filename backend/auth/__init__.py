"""Wallet sign-in (Sign-In-With-Solana) and session tokens."""

from backend.auth._tokens import issue_token, read_token

__all__ = ["issue_token", "read_token"]
