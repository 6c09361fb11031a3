"""Bundle data as Rego sees it: ``data.profiles`` and ``data.models``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signing.schema import Catalog, RoleProfile


def bundle_data(catalog: Catalog, profiles: Mapping[str, RoleProfile]) -> dict[str, Any]:
    """The base documents of a bundle, exactly as the OPA bundle's data.json files hold them."""
    return {
        "profiles": {role: p.model_dump(mode="json", by_alias=True) for role, p in profiles.items()},
        "models": catalog.model_dump(mode="json", by_alias=True),
    }
