"""The packaged WebShop vocabulary is exactly what WebShop's own files give."""

from __future__ import annotations

from lumos_envs.webshop.vocab import PACKAGED_VOCABULARY, load_vocabulary, vocabulary_from_json, vocabulary_to_json


def test_packaged_vocabulary_matches_the_webshop_files(fixtures_dir):
    built = load_vocabulary(fixtures_dir / "webshop")
    assert vocabulary_to_json(built) == PACKAGED_VOCABULARY.read_text(), "run python -m lumos_envs.webshop.vocab FOLDER"
    assert load_vocabulary() == built == vocabulary_from_json(vocabulary_to_json(built))
    assert len(built.types) > 100 and built.openers
