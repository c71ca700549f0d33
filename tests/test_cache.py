from ganserve.cache import LRUCache


def test_lru_evicts_least_recently_used_and_counts():
    cache = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1 and cache.get("c") == 3
    assert (cache.hits, cache.misses) == (3, 1)


def test_byte_bounded_cache():
    cache = LRUCache(10, cost=len)
    cache.put("x", b"12345678")
    cache.put("y", b"123")
    assert cache.get("x") is None and cache.total == 3
    cache.put("huge", b"x" * 11)  # larger than the whole cache: not stored
    assert cache.get("huge") is None and cache.get("y") == b"123"
