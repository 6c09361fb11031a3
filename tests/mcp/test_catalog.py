"""The tool catalog (exact names, bounded refetching) and the resource index."""

from __future__ import annotations

from gateway.mcp.catalog import ResourceIndex, ToolCatalog


async def test_the_catalog_fetches_once_and_answers_exactly() -> None:
    fetched: list[int] = []

    async def fetch() -> list[str]:
        fetched.append(1)
        return ["shell", "text_editor"]

    catalog = ToolCatalog(ttl_seconds=60, min_refresh_seconds=5)
    assert await catalog.lists("developer", "shell", fetch)
    assert not await catalog.lists("developer", "Shell", fetch)  # a miss right after a fetch is a miss
    assert not await catalog.lists("developer", "shell ", fetch)
    assert await catalog.lists("developer", "text_editor", fetch)
    assert len(fetched) == 1


async def test_a_miss_refetches_once_the_list_is_old_enough() -> None:
    lists = [["shell"], ["shell", "analyze"]]

    async def fetch() -> list[str]:
        return lists.pop(0)

    catalog = ToolCatalog(ttl_seconds=60, min_refresh_seconds=0)
    assert not await catalog.lists("developer", "analyze", fetch)
    assert await catalog.lists("developer", "analyze", fetch)  # the server added it meanwhile
    catalog.remember("github", ["merge_pr"])
    assert await catalog.lists("github", "merge_pr", fetch)


def test_the_resource_index_is_bounded() -> None:
    index = ResourceIndex(limit=2)
    index.remember("a", ["u1", "u2"])
    index.remember("b", ["u3"])
    assert index.server_of("u1") is None and index.server_of("u2") == "a" and index.server_of("u3") == "b"
