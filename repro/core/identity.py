"""A local model's identity is its content, never its folder name.

    content_id("/models/pruned-1b/maw-level40")   # 'content-v1:3fa9c1d2...' (64 hex digits)

What is hashed: every tensor of the weights (name, dtype, shape and bytes; safetensors are read
tensor by tensor, so the same tensors sharded differently, or saved with other file metadata,
give the same identity; other weight formats are hashed as files), config.json and
generation_config.json without the keys that say nothing about the model (the transformers
version that wrote it, the folder it was read from, the dtype spelling), and every other file
of the folder (tokenizer, chat template) byte for byte. Left out: the kit's own sidecar, shard
indexes, documentation and hidden files.

Speed: each file's digest is cached under $REPRO_CACHE/identity/ by (path, size, mtime, ctime,
inode, device),
so a model is read once (tensors hashed in parallel threads) and later lookups cost a stat per
file: Llama-3.2-3B's 6.4 GB take seconds the first time (benchmarks/identity_hash.py). No torch: the safetensors header is plain JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from repro.core.atomicio import write_json
from repro.core.cache import cache_root
from repro.core.errors import ReproError

SCHEME = "content-v1"
CHUNK = 8 << 20
NORMALISED_JSON = ("config.json", "generation_config.json")
VOLATILE_KEYS = {"transformers_version", "_name_or_path", "_commit_hash", "torch_dtype", "dtype",
                 "use_cache", "_from_model_config"}
SKIPPED_NAMES = {"repro_prune.json", "README.md", "LICENSE", "LICENSE.txt", "USE_POLICY.md",
                 ".gitattributes"}
SKIPPED_SUFFIXES = (".index.json", ".md")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _file_sha(f, size: int) -> str:
    h = hashlib.sha256()
    while size > 0:
        block = f.read(min(CHUNK, size))
        if not block:
            raise ReproError(f"{f.name} is shorter than it claims (truncated); re-save or re-download it")
        h.update(block)
        size -= len(block)
    return h.hexdigest()


def _safetensors(path: Path) -> dict[str, list]:
    """{tensor name: [dtype, shape, sha256 of its bytes]} of one .safetensors file."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        try:
            header = json.loads(f.read(n)) if 0 < n < 100 << 20 else None
        except (ValueError, UnicodeDecodeError):
            header = None
        if not isinstance(header, dict):
            raise ReproError(f"{path} is not a readable safetensors file (damaged header); "
                             "re-save or re-download the model")
        base = 8 + n
        try:
            entries = sorted(((k, v["dtype"], v["shape"], *v["data_offsets"])
                              for k, v in header.items() if k != "__metadata__"),
                             key=lambda e: e[3])
        except (KeyError, TypeError, ValueError):
            raise ReproError(f"{path} is not a readable safetensors file (damaged header); "
                             "re-save or re-download the model") from None

    def one(entry):  # hashlib releases the GIL: tensors are hashed on every core
        name, dtype, shape, start, end = entry
        with open(path, "rb") as g:
            g.seek(base + start)
            return name, [dtype, shape, _file_sha(g, end - start)]

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        out = dict(pool.map(one, entries))
    return out


def _normalised_json(path: Path) -> str:
    try:
        obj = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return _sha(path.read_bytes())  # not JSON: its bytes are its content
    if isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k not in VOLATILE_KEYS}
    return _sha(_canonical(obj))


def _digest(path: Path):
    """What a file contributes to the identity (uncached)."""
    if path.suffix == ".safetensors":
        return _safetensors(path)
    if path.name in NORMALISED_JSON:
        return _normalised_json(path)
    with open(path, "rb") as f:
        return _file_sha(f, path.stat().st_size)


def _cached_digest(path: Path):
    """_digest, cached by (path, size, mtime, ctime, inode, device): a changed file is read
    again. ctime is the change time the system sets itself on every write, rename or copy
    into place and no tool can set back, so weights replaced in place with their size, mtime
    and inode kept (`cp --preserve` over the file, `touch -d`) are hashed again."""
    st = path.stat()
    stamp = [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
             st.st_dev, SCHEME]
    entry = cache_root() / "identity" / f"{_sha(str(stamp[0]).encode())[:32]}.json"
    try:
        hit = json.loads(entry.read_text(encoding="utf-8"))
        if hit.get("stamp") == stamp:
            return hit["digest"]
    except (OSError, ValueError, AttributeError, KeyError):
        pass
    digest = _digest(path)
    after = path.stat()
    if (after.st_size, after.st_mtime_ns, after.st_ctime_ns) != tuple(stamp[1:4]):
        return digest  # changed while it was read: hashed again next time, never cached
    try:
        write_json(entry, {"stamp": stamp, "digest": digest})
    except (OSError, ReproError):
        pass  # an unwritable cache costs time, never correctness
    return digest


def _counted(p: Path) -> bool:
    return (p.is_file() and not p.name.startswith(".") and p.name not in SKIPPED_NAMES
            and not p.name.endswith(SKIPPED_SUFFIXES))


def content_id(path: str | os.PathLike) -> str:
    """The content identity of a model folder or single weights file (e.g. a .gguf)."""
    p = Path(path)
    try:
        return _content_id(p)
    except OSError as exc:
        raise ReproError(f"{p}: cannot read the model ({exc.strerror or exc}); check that the "
                         "folder and its files are readable") from None


def _content_id(p: Path) -> str:
    files = [p] if p.is_file() else sorted(f for f in p.iterdir() if _counted(f))
    tensors: dict[str, list] = {}
    others: dict[str, object] = {}
    for f in files:
        d = _cached_digest(f)
        if isinstance(d, dict):
            tensors.update(d)  # shards merge: the same tensors give the same identity
        else:
            others[f.name if p.is_dir() else "weights"] = d
    return f"{SCHEME}:{_sha(_canonical({'tensors': tensors, 'files': others}))}"


def short(identity: str) -> str:
    """Eight hex digits of an identity, for names."""
    return identity.rpartition(":")[2][:8]
