"""Bytes <-> domain: the JSON of Redis entries and of Backpack messages. Pure and tested on
recorded JSON; a malformed input raises CodecError with a message that says what is wrong."""


class CodecError(ValueError):
    """An entry that cannot be turned into a domain value (logged and skipped by services)."""
