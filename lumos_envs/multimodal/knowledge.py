"""The small bundled knowledge table the `QA` tool answers from (what an object is used for,
what it is made of, whether a magnet attracts it).

A-OKVQA's questions need a fact beyond the image; here the fact comes from this table, so an
agent has to read the object's label with `VQA` and then ask `QA` about it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

KNOWLEDGE: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "cup": {"used_for": "drinking", "material": "glass"},
    "key": {"used_for": "opening locks", "material": "iron"},
    "pen": {"used_for": "writing", "material": "plastic"},
    "hat": {"used_for": "covering the head", "material": "cloth"},
    "saw": {"used_for": "cutting wood", "material": "iron"},
    "map": {"used_for": "finding the way", "material": "paper"},
    "fan": {"used_for": "cooling the air", "material": "plastic"},
    "bag": {"used_for": "carrying things", "material": "cloth"},
    "nail": {"used_for": "joining wood", "material": "iron"},
    "bat": {"used_for": "hitting a ball", "material": "wood"},
})
"""item -> relation -> value"""

MAGNETIC_MATERIALS = frozenset({"iron"})
RELATIONS = ("used_for", "material", "magnetic")


def fact(item: str, relation: str) -> str:
    """The table's value for (item, relation); `magnetic` is derived from the material."""
    entry = KNOWLEDGE[item]
    if relation == "magnetic":
        return "yes" if entry["material"] in MAGNETIC_MATERIALS else "no"
    return entry[relation]


def knowledge_text() -> str:
    """The table as sentences (what the QA tool reads besides its context)."""
    lines = []
    for item, entry in KNOWLEDGE.items():
        magnetic = "is" if entry["material"] in MAGNETIC_MATERIALS else "is not"
        lines.append(f"A {item} is used for {entry['used_for']}. A {item} is made of {entry['material']}; "
                     f"a magnet {magnetic} attracted to it.")
    return " ".join(lines)
