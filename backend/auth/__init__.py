"""Wallet sign-in (Sign-In-With-Solana) and session tokens."""
