"""/ui: the explorer page is static, self-contained and served with a strict CSP (its
browser test is tests/ui/test_explorer_browser.py, run by `make ui-test`)."""

from __future__ import annotations

import re
from typing import Any

from gateway.http.ui import CSP


async def test_the_page_and_its_assets_are_served_with_a_strict_csp(gateway: Any) -> None:
    page = await gateway.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "default-src 'none'" in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in CSP
    html = page.text
    # Nothing from elsewhere, nothing inline: every asset is one of ours.
    assets = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert assets and all(a.startswith("/ui/") for a in assets), assets
    assert "<script>" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    for path, kind in (("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")):
        asset = await gateway.get(path)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert asset.headers["content-security-policy"] == CSP
    script = (await gateway.get("/ui/app.js")).text
    assert "innerHTML" not in script and "eval(" not in script  # server data is only ever text


async def test_every_control_has_a_label(gateway: Any) -> None:
    html = (await gateway.get("/ui")).text
    controls = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', html)
    labels = set(re.findall(r'<label for="([^"]+)"', html))
    assert controls and set(controls) <= labels, set(controls) - labels
    assert '<html lang="en">' in html and 'role="status"' in html
