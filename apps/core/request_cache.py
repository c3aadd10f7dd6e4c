"""A memo that lives exactly as long as one request (RequestCacheMiddleware opens it).

For reads a request repeats and that cannot change under it unless the request itself
changes them (the brands a staff user may see: the admin's list, its filters, the header
and the API's visibility check each ask). Outside a request (tasks, shells, tests calling a
selector) there is no memo and every call computes afresh. The memo never outlives its
request: the middleware resets it, and a new request starts empty.
"""

from collections.abc import Callable, Hashable
from contextvars import ContextVar, Token
from typing import TypeVar

T = TypeVar("T")

_memo: ContextVar[dict | None] = ContextVar("pam_request_cache", default=None)


def request_cache_open() -> Token:
    return _memo.set({})


def request_cache_close(token: Token) -> None:
    _memo.reset(token)


def request_cache_active() -> bool:
    """Is a request's memo open (are we serving a request)?"""
    return _memo.get() is not None


def request_cache_clear() -> None:
    """Forget everything memoised in this request (after a write the memo depends on)."""
    memo = _memo.get()
    if memo is not None:
        memo.clear()


def request_memo(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per request and key; every call when no request is open."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]
