"""Why the engine refuses a command.

Every rejection leaves the engine's state exactly as it was. The tree::

    Rejection
    ├── InvalidCommand          a field is missing, of the wrong type or out of range
    ├── WalletNotFound          the user has no wallet (INITIALIZE_WALLET first)
    ├── InsufficientBalance     the margin exceeds the wallet's balance
    ├── SlippageExceeded        the engine's price moved too far from the trader's quote
    ├── PriceUnavailable        no price has been received for the asset
    │   └── StalePrice          the newest price is older than PRICE_MAX_AGE_S
    ├── DuplicateOrder          the order id is already taken by a different order
    ├── DeadlineExceeded        the command reached the engine after its sender gave up on it
    └── OrderRejection
        ├── UnknownOrder        no such order
        ├── NotOrderOwner       the order belongs to another user
        ├── OrderAlreadyClosed  the order was closed, liquidated or cancelled before
        ├── OrderNotPending     cancel: the order is not waiting any more (filled, closed...)
        └── OrderIsPending      close: the order has not filled yet (cancel it instead)

Each class has a stable `code`, the string that travels in replies; adapters map codes
to transport concerns (HTTP status and so on), the domain does not know about them.
"""

from __future__ import annotations

__all__ = [
    "DeadlineExceeded",
    "DuplicateOrder",
    "InsufficientBalance",
    "InvalidCommand",
    "NotOrderOwner",
    "OrderAlreadyClosed",
    "OrderIsPending",
    "OrderNotPending",
    "OrderRejection",
    "PriceUnavailable",
    "Rejection",
    "SlippageExceeded",
    "StalePrice",
    "UnknownOrder",
    "WalletNotFound",
]


class Rejection(Exception):
    code = "REJECTED"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCommand(Rejection):
    code = "INVALID_COMMAND"


class WalletNotFound(Rejection):
    code = "WALLET_NOT_FOUND"


class InsufficientBalance(Rejection):
    code = "INSUFFICIENT_BALANCE"


class SlippageExceeded(Rejection):
    code = "SLIPPAGE_EXCEEDED"


class PriceUnavailable(Rejection):
    code = "PRICE_UNAVAILABLE"


class StalePrice(PriceUnavailable):
    code = "STALE_PRICE"


class DuplicateOrder(Rejection):
    code = "DUPLICATE_ORDER"


class DeadlineExceeded(Rejection):
    code = "DEADLINE_EXCEEDED"


class OrderRejection(Rejection):
    code = "ORDER_REJECTED"


class UnknownOrder(OrderRejection):
    code = "UNKNOWN_ORDER"


class NotOrderOwner(OrderRejection):
    code = "NOT_ORDER_OWNER"


class OrderAlreadyClosed(OrderRejection):
    code = "ORDER_ALREADY_CLOSED"


class OrderNotPending(OrderRejection):
    code = "ORDER_NOT_PENDING"


class OrderIsPending(OrderRejection):
    code = "ORDER_IS_PENDING"
