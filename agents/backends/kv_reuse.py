"""Key/value caches of token sequences already computed, reused by later prompts that start with them.

A LUMOS conversation is recomputed from its first token at every turn unless its cache is kept: a
planner's turn k prompt is its turn k-1 prompt, the subgoal it generated and one feedback line. So
`TransformersBackend` keeps, per row it generated, the keys and values of the prompt and of the
kept generated tokens (`KVStore.add_conversation`), and a later prompt takes the longest cached
prefix of its ids (`KVStore.longest`) and computes only the rest. The shared instruction prefix of
a batch is a cache of the same kind (`KVStore.add_prefix`), kept in its own LRU so that
conversations cannot evict it.

Reuse is exact in the ids: a cached sequence is taken only as far as its ids equal the prompt's
(a causal model's keys and values for a prefix depend on that prefix only), so a tokenisation that
differs at a turn boundary costs recomputation, never a wrong cache. Values may differ from a
recomputation in the last float bits (another batch shape), which can flip a near-tie in greedy
decoding; the tests use prompts whose top-two logit gap is clear.

Memory is bounded by the two LRUs' sizes, in sequences, and the conversations' by a byte cap. Each sequence holds `layers x 2 x heads x
length x head_dim` floats (SmolLM2-135M: 46 KB per token in fp32, so 1,000 tokens are 46 MB).
Caches are the transformers `DynamicCache` of the model's own layers; a model whose cache has
other layer kinds (sliding windows, static or quantised caches) is not reused (`supports`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass
class CachedSequence:
    """The ids of one sequence and, per layer, its keys and values (`[heads, length, head_dim]`)."""

    ids: np.ndarray
    layers: list[tuple[Any, Any]]

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def nbytes(self) -> int:
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in self.layers)


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """Length of the longest common prefix of two id arrays."""
    n = min(a.shape[0], b.shape[0])
    if n == 0:
        return 0
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if differ.size else n


def supports(cache: Any) -> bool:
    """Whether a model's cache is a plain `DynamicCache` of `DynamicLayer`s (rows can be cut and joined)."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    layers = getattr(cache, "layers", None)
    return type(cache) is DynamicCache and bool(layers) and all(type(layer) is DynamicLayer and layer.is_initialized
                                                                for layer in layers)


class KVStore:
    """Two LRUs of cached sequences: shared prefixes, and the conversations in flight.

    Args:
        prefix_size: shared prefixes kept (the instruction blocks of the modules in use).
        conversation_size: generated rows kept; a row whose cache is extended replaces the entry it
            extended, so this is about the number of conversations in flight.
        conversation_bytes: the most memory the conversations' caches may hold together (a 7B model
            in bf16 holds about 0.5 MB per token, so a count alone would not bound it); None: no cap.
    """

    def __init__(self, prefix_size: int = 8, conversation_size: int = 64, conversation_bytes: int | None = None) -> None:
        if prefix_size < 1 or conversation_size < 0:
            raise ValueError(f"cache sizes must be prefix_size >= 1 and conversation_size >= 0, got {prefix_size}, {conversation_size}")
        self.prefix_size = prefix_size
        self.conversation_size = conversation_size
        self.conversation_bytes = conversation_bytes
        self._bytes = 0
        self.prefixes: "OrderedDict[tuple[int, ...], CachedSequence]" = OrderedDict()
        self.conversations: "OrderedDict[tuple[int, ...], CachedSequence]" = OrderedDict()

    def clear(self) -> None:
        self.prefixes.clear()
        self.conversations.clear()
        self._bytes = 0

    @property
    def conversation_nbytes(self) -> int:
        """Memory the conversations' caches hold now."""
        return self._bytes

    def longest(self, row: Sequence[int], limit: int) -> tuple[CachedSequence | None, int]:
        """The cached sequence sharing the longest prefix with `row`, and that length (at most `limit`)."""
        ids = np.asarray(row, dtype=np.int64)
        best: tuple[CachedSequence | None, int] = (None, 0)
        best_key: tuple[tuple[int, ...], OrderedDict] | None = None
        for table in (self.conversations, self.prefixes):
            for key, entry in table.items():
                length = min(common_prefix(entry.ids, ids), limit)
                if length > best[1]:
                    best, best_key = (entry, length), (key, table)
        if best_key is not None:
            best_key[1].move_to_end(best_key[0])
        return best

    def add_prefix(self, ids: Sequence[int], layers: list[tuple[Any, Any]]) -> CachedSequence:
        entry = CachedSequence(np.asarray(ids, dtype=np.int64), layers)
        self._put(self.prefixes, entry, self.prefix_size)
        return entry

    def prefix(self, ids: Sequence[int]) -> CachedSequence | None:
        """The cached shared prefix with exactly these ids (now the most recently used), or None."""
        key = tuple(ids)
        entry = self.prefixes.get(key)
        if entry is not None:
            self.prefixes.move_to_end(key)
        return entry

    def add_conversation(self, ids: Sequence[int], layers: list[tuple[Any, Any]], extends: CachedSequence | None = None,
                         extended_length: int = 0) -> None:
        """Keep a generated row's cache; the conversation entry it extended wholly is dropped (it is a prefix of this one)."""
        if self.conversation_size == 0:
            return
        if extends is not None and extended_length == len(extends):
            dropped = self.conversations.pop(tuple(extends.ids.tolist()), None)
            if dropped is not None:
                self._bytes -= dropped.nbytes
        entry = CachedSequence(np.asarray(ids, dtype=np.int64), layers)
        if self.conversation_bytes is not None and entry.nbytes > self.conversation_bytes:
            return
        key = tuple(entry.ids.tolist())
        old = self.conversations.pop(key, None)
        self._bytes += entry.nbytes - (old.nbytes if old is not None else 0)
        self.conversations[key] = entry
        while self.conversations and (len(self.conversations) > self.conversation_size
                                      or (self.conversation_bytes is not None and self._bytes > self.conversation_bytes)):
            self._bytes -= self.conversations.popitem(last=False)[1].nbytes

    @staticmethod
    def _put(table: "OrderedDict[tuple[int, ...], CachedSequence]", entry: CachedSequence, size: int) -> None:
        key = tuple(entry.ids.tolist())
        table[key] = entry
        table.move_to_end(key)
        while len(table) > size:
            table.popitem(last=False)


def layers_of(cache: Any, row: int, positions: Any) -> list[tuple[Any, Any]]:
    """One row's keys and values at the given sequence positions, per layer, as new tensors."""
    return [(layer.keys[row].index_select(1, positions), layer.values[row].index_select(1, positions))
            for layer in cache.layers]


def assemble(matches: Sequence[tuple[CachedSequence | None, int]], template: CachedSequence, config: Any) -> Any:
    """A batch `DynamicCache` whose row i holds the first `length_i` positions of its match, right-aligned.

    Rows are left-padded to the longest match with zeros; the caller masks those positions out
    (attention mask 0), so positions follow the mask and each row's cached tokens keep the
    positions they were computed at (0..length-1).
    """
    import torch
    from transformers.cache_utils import DynamicCache

    width = max(length for _, length in matches)
    data = []
    for index in range(len(template.layers)):
        key0, value0 = template.layers[index]
        heads, _, dim = key0.shape
        keys = torch.zeros((len(matches), heads, width, dim), dtype=key0.dtype, device=key0.device)
        values = torch.zeros((len(matches), value0.shape[0], width, value0.shape[2]), dtype=value0.dtype, device=value0.device)
        for row, (entry, length) in enumerate(matches):
            if entry is not None and length:
                keys[row, :, width - length:] = entry.layers[index][0][:, :length]
                values[row, :, width - length:] = entry.layers[index][1][:, :length]
        data.append((keys, values))
    return DynamicCache(ddp_cache_data=data, config=config)
