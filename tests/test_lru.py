"""The service's LRU cache: bounded by entries or by weight, the least recently used first."""

from __future__ import annotations

from server.search.lru import LRU


def test_entries_bound_and_recency() -> None:
    cache = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_weight_bound_and_an_entry_heavier_than_the_cache() -> None:
    cache = LRU(10, weigh=len)
    cache.put("a", "xxxx")
    cache.put("b", "yyyy")
    cache.put("c", "zzzz")  # 12 > 10: "a" goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "yyyy", "zzzz")
    cache.put("b", "w" * 11)  # too heavy to keep: not kept, and its older value goes too
    assert (cache.get("b"), cache.get("c")) == (None, "zzzz")


def test_lookups_are_counted() -> None:
    cache = LRU(2)
    assert (cache.hits, cache.misses) == (0, 0)
    cache.put("a", 1)
    cache.get("a")
    cache.get("a")
    cache.get("b")
    assert (cache.hits, cache.misses) == (2, 1)
