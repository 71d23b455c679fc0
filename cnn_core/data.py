"""Data sets: one entry point, ``load_dataset``, and the bundled 5,000 MNIST digits.

Three sources, tried in this order by `load_dataset`:
1. "digits": the bundled sample in assets/digits_5k.npz (always there, works offline).
2. "mnist" / "fashion-mnist" from a local folder holding the four IDX files (gzipped or not):
   $CONVSCOPE_DATA_DIR/<name>, the cache folder, or (Fashion-MNIST) Debian's package folder.
3. A download into the cache folder, only when allowed; every file is checked against its
   published SHA-256 before it is moved into place, so the cache never holds a partial file.

The data sets themselves are rows of cnn_core.catalog.DATASETS; the IDX format, the folders and the
download are cnn_core.idx. Their public names are importable from here too, so callers need one
module. Every problem with data raises `DataError` with a sentence that says what to do.
Only NumPy and the standard library are used here (no torch, streamlit or plotly).
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path

import numpy as np

from .catalog import (
    BUNDLED_PATH,
    CLASS_NAMES,
    DATASET_LABELS,
    DATASETS,
    TRAIN_SIZES,
    DataError,
    Dataset,
    DatasetInfo,
    Split,
    dataset_info,
    make_dataset,
)
from .idx import (
    _what_to_do,
    available,
    default_cache_dir,
    download,
    find_local,
    load_idx_folder,
    read_idx,
    write_idx,
)

__all__ = [
    "BUNDLED_PATH", "CLASS_NAMES", "DATASETS", "DATASET_LABELS", "TRAIN_SIZES", "DataError",
    "Dataset", "DatasetInfo", "Split", "available", "dataset_info", "default_cache_dir",
    "download", "find_local", "load_bundled", "load_dataset", "load_idx_folder", "read_idx",
    "write_idx",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Bundled sample
# ---------------------------------------------------------------------------------------------


def load_bundled(path: str | os.PathLike | None = None) -> Split:
    """The bundled 5,000 MNIST digits as a 4,000 / 1,000 split named "digits" (cached)."""
    return _load_bundled_cached(str(Path(path or BUNDLED_PATH).resolve()))


@functools.lru_cache(maxsize=4)
def _load_bundled_cached(path: str) -> Split:
    arrays = _read_npz(Path(path), ("images", "labels", "train_idx", "test_idx"))
    images, labels = arrays["images"], arrays["labels"]  # (5000, 28, 28), (5000,)
    train_idx, test_idx = arrays["train_idx"], arrays["test_idx"]  # (4000,), (1000,)
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise DataError(f"{path} holds images {images.shape} and labels {labels.shape}; rebuild it")
    for idx in (train_idx, test_idx):
        if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= len(labels):
            raise DataError(f"{path} has split indices outside 0..{len(labels) - 1}; rebuild it")
    if np.intersect1d(train_idx, test_idx).size:
        raise DataError(f"{path}: train and test indices overlap; rebuild it")
    return Split(
        train=make_dataset("digits", images[train_idx], labels[train_idx]),
        test=make_dataset("digits", images[test_idx], labels[test_idx]),
    )


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read `keys` from an .npz without pickles; DataError if missing or damaged."""
    rebuild = "rebuild it with `python scripts/build_sample_data.py`"
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in keys}
    except FileNotFoundError as e:
        raise DataError(f"the bundled digits file {path} is missing; {rebuild}") from e
    except KeyError as e:
        raise DataError(f"{path} lacks the array {e}; {rebuild}") from e
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path} is damaged ({e}); {rebuild}") from e


# ---------------------------------------------------------------------------------------------
# One entry point
# ---------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    allow_download: bool = False,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
) -> Split:
    """Load a data set: "digits" from the bundle; others from a local folder, else by download
    (only if `allow_download`), else DataError explaining where to put the files."""
    if dataset_info(name).bundled:
        return load_bundled()
    folder = find_local(name, cache_dir)
    if folder is None:
        target = Path(cache_dir or default_cache_dir()) / name
        if not allow_download:
            advice = _what_to_do(name, target)
            raise DataError(f"{name} is not on this computer. {advice} Or allow the download.")
        folder = download(name, cache_dir=cache_dir, base_url=base_url)
    return load_idx_folder(name, folder)
