"""The product reads nothing from `../shared` (users do not have it) and ships what it needs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("lumos_envs", "agents", "rollouts")


def test_no_product_module_reaches_for_the_shared_folder():
    pattern = re.compile(r"""["']\.\./shared|/\s*["']shared["']|parent\s*/\s*["']shared""")
    offenders = [str(path.relative_to(ROOT)) for package in PRODUCT for path in (ROOT / package).rglob("*.py")
                 if pattern.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_demo_gsm8k_sample_is_packaged_with_its_licence():
    from lumos_envs.tasks.registry import load_tasks
    from rollouts.demo import BUNDLED_GSM8K_SAMPLE

    assert BUNDLED_GSM8K_SAMPLE.is_file() and "MIT License" in (BUNDLED_GSM8K_SAMPLE.parent / "README.md").read_text()
    assert len(load_tasks(f"gsm8k:{BUNDLED_GSM8K_SAMPLE}")) == 25
