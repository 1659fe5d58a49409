"""A credit line's risk pool as the loan rules see it: its code, balance, leverage and the
headroom its leverage limit leaves for new covered credit (the pool engine's
`leverage_headroom`). The loans' use cases read it here, at the ledger's root, so that they need
not reach into the pools' room.
"""

from __future__ import annotations

from decimal import Decimal

from innofin.ledger.loans import rules_engine as loan_rules
from innofin.ledger.models import RiskPool
from innofin.ledger.pools import engine as pools


def pool_state(pool: RiskPool) -> loan_rules.PoolState:
    headroom = None
    if pool.leverage is not None:
        headroom = pools.leverage_headroom(
            pool.balance, pool.covered_outstanding, Decimal(pool.leverage)
        )
    return loan_rules.PoolState(pool.code, pool.balance, pool.leverage, headroom)
