"""The README's verification recipe, run as printed, on a real delivery."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tailored import Engine
from tailored.testing import HashEmbedder
from tailored.webhooks import Deliverer, Webhooks, sign

from .receiver import receiving

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def recipe() -> Any:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    [code] = [b for b in blocks if "def verify_tailored_signature" in b]
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the recipe exactly as printed
    return namespace["verify_tailored_signature"]


def test_the_readme_recipe_accepts_a_real_delivery_and_refuses_forgeries(tmp_path: Path) -> None:
    verify = recipe()
    with receiving() as rx, Engine(tmp_path / "r.db", tenant="acme", embedder=HashEmbedder()) as eng:
        _, secret = Webhooks(eng.store, allow_private=True).add("acme", rx.url)
        eng.remember("ana", {"kind": "fact", "key": "city", "value": "Lisbon"})
        with Deliverer(eng.store, allow_private=True) as d:
            d.run_until_idle()
        [got] = rx.wait_ok(1)
    header, body = got.headers["Tailored-Signature"], got.body
    assert verify(secret, header, body)
    assert not verify(secret, header, body.replace(b"Lisbon", b"Lisboa"))  # a changed body
    assert not verify("whsec_someone_elses_secret", header, body)
    assert not verify(secret, sign(secret, body, timestamp=int(time.time()) - 3600), body)  # an old request
    assert not verify(secret, "v1=" + header.split("v1=")[1], body)  # no timestamp
    rotated = sign(secret, body) + ",v1=" + "0" * 64  # two signatures, one good: accepted
    assert verify(secret, rotated, body)
