"""The trading program's interface: the P2P energy market, its orders and hash-locked fills."""

from __future__ import annotations

from specs.common import COMMON_ERRORS, PK, acc, sys_prog, tok_prog
from specs.htlc import HTLC_ACCOUNT, HTLC_ERRORS, HTLC_EVENTS, HTLC_INSTRUCTIONS, RELEASE_INSTRUCTIONS

TRADING = {
    "docs": (
        "GridTokenX P2P energy market. Prices are payment-token base units per 1 GRXE (= 1,000,000 energy base units). "
        "Trades execute at the sell order's price; payment = floor(amount * price / 1e6); fee = floor(payment * fee_bps / 10000) "
        "is taken from the seller's proceeds."
    ),
    "instructions": [
        {
            "name": "initialize_market",
            "docs": (
                'Create market PDA ["market", energy_mint, payment_mint] and its two vault token accounts (owned by '
                "the market PDA). Only the compiled-in deployer key may call it; `authority` becomes the market "
                "authority (matcher)."
            ),
            "accounts": [
                acc("deployer", True, True, "The compiled-in deployer key (programs/program_ids.json), payer"),
                acc("market", True, docs='PDA ["market", energy_mint, payment_mint]'),
                acc("energy_mint"),
                acc("payment_mint"),
                acc("energy_vault", True, docs='PDA ["energy_vault", market] (token account created here)'),
                acc("payment_vault", True, docs='PDA ["payment_vault", market] (token account created here)'),
                acc("fee_account", docs="Payment-mint token account receiving fees"),
                tok_prog(),
                sys_prog(),
            ],
            "args": [{"name": "fee_bps", "type": "u16"}, {"name": "authority", "type": PK}],
        },
        {
            "name": "create_sell_order",
            "docs": "Escrow `amount` GRXE base units from the seller into the energy vault.",
            "accounts": [
                acc("owner", True, True),
                acc("market"),
                acc("order", True, docs='PDA ["order", owner, order_id LE]'),
                acc("owner_energy_account", True),
                acc("energy_vault", True),
                tok_prog(),
                sys_prog(),
            ],
            "args": [
                {"name": "order_id", "type": "u64"},
                {"name": "amount", "type": "u64"},
                {"name": "price", "type": "u64"},
            ],
        },
        {
            "name": "create_buy_order",
            "docs": "Escrow ceil(amount * price / 1e6) payment base units from the buyer into the payment vault.",
            "accounts": [
                acc("owner", True, True),
                acc("market"),
                acc("order", True, docs='PDA ["order", owner, order_id LE]'),
                acc("owner_payment_account", True),
                acc("payment_vault", True),
                tok_prog(),
                sys_prog(),
            ],
            "args": [
                {"name": "order_id", "type": "u64"},
                {"name": "amount", "type": "u64"},
                {"name": "price", "type": "u64"},
            ],
        },
        {
            "name": "cancel_order",
            "docs": "Owner cancels; the remaining escrow goes back to refund_account (energy for sell, payment for buy) and the order is closed.",
            "accounts": [
                acc("owner", True, True),
                acc("market"),
                acc("order", True),
                acc("refund_account", True),
                acc("vault", True, docs="energy_vault for sell orders, payment_vault for buy orders"),
                tok_prog(),
            ],
            "args": [],
        },
        {
            "name": "match_order",
            "docs": (
                "Market authority settles `amount` energy base units of sell_order against buy_order at the sell price. "
                "Refuses self-trade and buy.price < sell.price. Filled orders are closed (rent to their owners; a buy order's leftover escrow "
                "goes to buyer_payment_account)."
            ),
            "accounts": [
                acc("authority", False, True),
                acc("market", True),
                acc("sell_order", True),
                acc("buy_order", True),
                acc("seller", True, docs="sell_order.owner (receives rent when closed)"),
                acc("buyer", True, docs="buy_order.owner (receives rent when closed)"),
                acc("seller_payment_account", True, docs="Seller's payment-mint token account"),
                acc("buyer_energy_account", True, docs="Buyer's GRXE token account"),
                acc("buyer_payment_account", True, docs="Buyer's payment-mint token account (escrow refund)"),
                acc("fee_account", True),
                acc("energy_vault", True),
                acc("payment_vault", True),
                tok_prog(),
            ],
            "args": [{"name": "amount", "type": "u64"}],
        },
        *HTLC_INSTRUCTIONS,
        *RELEASE_INSTRUCTIONS,
    ],
    "accounts": [
        {
            "name": "Market",
            "fields": [
                ("authority", PK),
                ("energy_mint", PK),
                ("payment_mint", PK),
                ("energy_vault", PK),
                ("payment_vault", PK),
                ("fee_account", PK),
                ("fee_bps", "u16"),
                ("trade_count", "u64"),
                ("volume", "u64"),
                ("bump", "u8"),
                ("energy_vault_bump", "u8"),
                ("payment_vault_bump", "u8"),
            ],
        },
        {
            "name": "Order",
            "fields": [
                ("market", PK),
                ("owner", PK),
                ("order_id", "u64"),
                ("side", "u8"),
                ("price", "u64"),
                ("amount", "u64"),
                ("remaining", "u64"),
                ("escrow_remaining", "u64"),
                ("created_at", "i64"),
                ("bump", "u8"),
            ],
        },
        HTLC_ACCOUNT,
    ],
    "events": [
        {
            "name": "OrderCreated",
            "fields": [
                ("order", PK),
                ("owner", PK),
                ("order_id", "u64"),
                ("side", "u8"),
                ("price", "u64"),
                ("amount", "u64"),
                ("escrow", "u64"),
            ],
        },
        {"name": "OrderCancelled", "fields": [("order", PK), ("owner", PK), ("refunded", "u64")]},
        {
            "name": "TradeExecuted",
            "fields": [
                ("market", PK),
                ("sell_order", PK),
                ("buy_order", PK),
                ("seller", PK),
                ("buyer", PK),
                ("amount", "u64"),
                ("price", "u64"),
                ("payment", "u64"),
                ("fee", "u64"),
            ],
        },
        *HTLC_EVENTS,
    ],
    "errors": COMMON_ERRORS
    + [
        ("InvalidFee", "fee_bps must be <= 10000"),
        ("ZeroAmount", "amount must be > 0"),
        ("ZeroPrice", "price must be > 0"),
        ("InvalidSide", "Order has the wrong side for this account slot"),
        ("SelfTrade", "Buyer and seller are the same wallet"),
        ("PriceNotCrossed", "Buy price is below sell price"),
        ("InsufficientRemaining", "Fill amount exceeds an order's remaining amount"),
        ("TradeTooSmall", "Fill amount is too small to pay anything"),
        ("InvalidMint", "Mint does not match the market"),
        ("InvalidTokenAccount", "Token account mint or owner mismatch"),
        ("MarketMismatch", "Order belongs to another market"),
        ("InvalidVault", "Vault does not match the market"),
        ("InvalidFeeAccount", "Fee account does not match the market"),
        *HTLC_ERRORS,
    ],
}
