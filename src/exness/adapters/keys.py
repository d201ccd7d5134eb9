"""Every Redis name the services share (SPEC §2 and the ones recovery adds), in one place."""

from __future__ import annotations

# server -> engine: lists, producers LPUSH, the engine takes the oldest first (from the right)
TRADE_QUEUE = "trade_stream"  # CREATE_TRADE, CLOSE_TRADE
WALLET_QUEUE = "user_wallet_stream"  # INITIALIZE_WALLET, GET_USER_BALANCE, GET_USDC_BALANCE, ...
COMMAND_QUEUES = (TRADE_QUEUE, WALLET_QUEUE)

# engine -> server: one reply list per server process, named in each command's "replyTo"
REPLY_PREFIX = "engine_replies:"
REPLY_TTL_S = 120  # a reply list whose server is gone expires

# Idempotent requests (SPEC §7.5): a request id with this prefix (the server derives it from the
# trader and the Idempotency-Key) has its engine reply also kept under OUTCOME_PREFIX + request id
# for OUTCOME_TTL_S, written with the batch: a retry after a time-out finds the real outcome.
IDEMPOTENT_PREFIX = "idem:"
OUTCOME_PREFIX = "engine:outcome:"
OUTCOME_TTL_S = 24 * 3600
# the server's record of each (trader, Idempotency-Key) and its first answer, 24 h
# (adapters/idempotency.py)
IDEMPOTENCY_PREFIX = "idempotency:"

# poller (or anyone) -> engine: stream, field "data" (see codec/prices.py)
PRICE_STREAM = "price_stream"
PRICE_STREAM_MAXLEN = 200_000  # ~5.5 h of 100 ms batches: the engine may be down that long

# engine -> dbprocessor: streams consumed by a consumer group
DB_OPERATIONS = "db_operations_queue"
SNAPSHOTS = "snapshot_queue"
DBPROCESSOR_GROUP = "dbprocessor"

# engine -> server: the latest price of an asset, JSON, for the slippage quote; the same
# JSON is published on PRICE_CHANNEL, so servers hold it without asking (adapters/quotes.py)
PRICE_KEY_PREFIX = "price-"
PRICE_CHANNEL = "prices"

# engine -> server processes: the traders' live events (SPEC §8; adapters/events.py). Each event
# gets the trader's next number (`traderSeq`, HINCRBY on LIVE_SEQ) and is appended to the
# trader's log (a stream, ids `<traderSeq>-<ms>`), and each engine batch's events are published
# on LIVE_CHANNEL, all in the batch's MULTI/EXEC. The log keeps every event younger than
# LIVE_RETAIN_MS and the newest LIVE_RETAIN_EVENTS whatever their age, and expires whole after
# LIVE_LOG_IDLE_S without an event; the counters are kept.
LIVE_SEQ = "live:seq"  # hash: trader id -> last traderSeq
LIVE_LOG_PREFIX = "live:log:"
LIVE_CHANNEL = "live:events"
LIVE_RETAIN_EVENTS = 1_000
LIVE_RETAIN_MS = 10 * 60 * 1000
LIVE_LOG_IDLE_S = 24 * 3600

# the engine's recovery state (README, "Recovery")
JOURNAL = "engine:journal"  # every input in the order it was applied
PRICE_CURSOR = "engine:price_cursor"  # last price_stream id copied into the journal
APPLIED = "engine:applied"  # last journal id whose outputs (replies, DB operations) are written
JOURNAL_FLOOR = "engine:journal_floor"  # the journal holds nothing older than this id

# liveness, for GET /health and `exness up`
ENGINE_STATUS = "status:engine"
FEED_STATUS = "status:feed"
DBPROCESSOR_STATUS = "status:dbprocessor"
STATUS_TTL_S = 15

# the server's own state
SIGNIN_TOKEN_PREFIX = "signin:"  # + sha256(link token): the address it signs in
SIGNIN_CURRENT_PREFIX = "signin_current:"  # + sha256(address): its newest link's key
SIGNIN_SENT_PREFIX = "signin_sent:"  # + sha256(address): sorted set of its mails' times
SIGNIN_SENT_ALL = "signin_sent"  # sorted set of every sign-in mail's time (the last hour)
SESSION_PREFIX = "session:"  # + session id (JWT jti): the trader's id, expiring with it
TRADER_SESSIONS_PREFIX = "sessions:"  # + trader id: sorted set of session ids by expiry
SESSION_EVENTS = "session_events"  # channel: revocations and their acknowledgements
RATE_LIMIT_PREFIX = "ratelimit:"  # + "ip:" address or "trader:" id, ":" minute
DEAD_LETTERS = "dead_letters"  # entries a consumer could not process, kept for an operator


def price_key(asset: str) -> str:
    return f"{PRICE_KEY_PREFIX}{asset}"


def reply_key(server_id: str) -> str:
    return f"{REPLY_PREFIX}{server_id}"


def outcome_key(request_id: str) -> str:
    return f"{OUTCOME_PREFIX}{request_id}"


def live_log_key(user_id: str) -> str:
    return f"{LIVE_LOG_PREFIX}{user_id}"
