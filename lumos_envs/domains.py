"""The lumos domains and their names in LUMOS's own data (the `dataset` field of SFT records)."""

from __future__ import annotations

from enum import Enum


class Domain(str, Enum):
    """A lumos task domain; each has one environment (`lumos/<Name>-v0`)."""

    MATH = "math"
    QA = "qa"
    WEBSHOP = "webshop"
    MULTIMODAL = "multimodal"
    SQL = "sql"

    @property
    def lumos_dataset(self) -> str:
        """The name LUMOS's records use for this domain (`maths`, `complex_qa`, ...)."""
        return _LUMOS_DATASET_NAMES[self]

    @classmethod
    def from_lumos_dataset(cls, name: str) -> "Domain":
        """Map a LUMOS data-domain name (`maths`, `complex_qa`, `intercode_sql`, ...) to a Domain.

        Raises:
            ValueError: for LUMOS domains lumos has no environment for (`web_agent`, `intercode_bash`).
        """
        for domain, lumos_name in _LUMOS_DATASET_NAMES.items():
            if name in (lumos_name, domain.value):
                return domain
        if name == "intercode_sql":
            return cls.SQL
        raise ValueError(f"no lumos domain for LUMOS dataset name {name!r}")


_LUMOS_DATASET_NAMES = {
    Domain.MATH: "maths",
    Domain.QA: "complex_qa",
    Domain.WEBSHOP: "webshop",
    Domain.MULTIMODAL: "multimodal",
    Domain.SQL: "sql",
}
