"""The data sets ConvScope knows, one row each, and the read-only containers their images come in.

``DATASETS`` is the one table: the loader (cnn_core.data), the sidebar (its menu, the training
slider's largest value and each data set's first run) and the Training page (the held-out set in
words) all read it. Adding a data set is a row here; a data set that is not bundled needs its
four IDX files (``files``) and is then found in a local folder or downloaded (cnn_core.idx).
Only NumPy and the standard library are used here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_PATH = REPO_ROOT / "assets" / "digits_5k.npz"


class DataError(ValueError):
    """A data set is missing, malformed or could not be downloaded; the message says what to do."""


@dataclass(frozen=True)
class DatasetInfo:
    """One row of DATASETS."""

    name: str  # the name in links, TrainRequest and folders ("fashion-mnist")
    label: str  # in words with its size, for the sidebar's menu
    class_names: tuple[str, ...]  # label index -> human-readable name
    train_size: int  # training images (the sidebar's largest "Training images")
    held_out: str  # its held-out set in words (the Training page)
    first_run: dict  # the sidebar's default run: epochs, batch, lr, schedule, augment
    # Not bundled: SHA-256 of each gzipped IDX file (checked on download), where to download them
    # from, and folders that OS packages install them in. Empty for the bundled digits.
    files: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    system_dirs: tuple[Path, ...] = ()

    @property
    def bundled(self) -> bool:
        """True for the sample shipped in assets/ (BUNDLED_PATH): nothing to find or download."""
        return not self.files


IDX_FILES = (  # the four files of an MNIST-style data set, in this order everywhere
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _idx_files(*sha256: str) -> dict[str, str]:
    """{file name: SHA-256} of a data set's four IDX files, the hashes given in IDX_FILES' order."""
    return dict(zip(IDX_FILES, sha256, strict=True))


_DIGITS = tuple(str(d) for d in range(10))
_CLOTHES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")  # fmt: skip

# The first runs were measured with bench/sidebar_defaults.py (figures in the README): the bundled
# digits reach 97.5% held-out (seeds 0-3: 97.1-97.9%) in about 40 s, Fashion-MNIST 89.5% in about
# a minute. MNIST's is not measured here (the full MNIST cannot be downloaded on the build
# machines).
#
# The official SHA-256 of each gzipped IDX file are from tensorflow/datasets
# (tensorflow_datasets/url_checksums/mnist.txt and fashion_mnist.txt), and the same in several
# independent downloaders (including one that uses the ossci-datasets MNIST mirror below); not
# re-verified by a download here: the build machines have no network. Debian's
# `dataset-fashion-mnist` ships the four .gz files in its folder re-gzipped: their .gz SHA-256
# differ (the gzip header no longer holds the file name) but they decompress to the same bytes. So
# local folders are checked by structure (cnn_core.idx), and only downloads by SHA-256.
DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "digits", "Bundled MNIST digits (5,000)", _DIGITS, 4000,
            "the 1,000 held-out bundled digits",
            {"epochs": 20, "batch": 16, "lr": 3e-3, "schedule": "cosine", "augment": True},
        ),
        DatasetInfo(
            "mnist", "MNIST (70,000)", _DIGITS, 60000, "the MNIST test set",
            {"epochs": 3, "batch": 64, "lr": 3e-3, "schedule": "cosine", "augment": True},
            files=_idx_files(  # SHA-256 of train images, train labels, test images, test labels
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
            base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        DatasetInfo(
            "fashion-mnist", "Fashion-MNIST (70,000)", _CLOTHES, 60000,
            "the Fashion-MNIST test set",
            {"epochs": 5, "batch": 64, "lr": 3e-3, "schedule": "cosine", "augment": False},
            files=_idx_files(  # SHA-256 of train images, train labels, test images, test labels
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
            base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # no https
            system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Preset:
    """A run the sidebar offers in one click: a data set, an architecture and its training."""

    label: str  # the button's text
    dataset: str  # a key of DATASETS
    model: dict  # ModelConfig fields (the others keep their defaults)
    run: dict  # like DatasetInfo.first_run: epochs, batch, lr, schedule, augment


# Fashion-MNIST to 90% held-out quickly, measured with bench/time_to_accuracy.py (figures in the
# README): batch norm lets a one-cycle schedule peak at a high learning rate; stride-2 convs
# instead of pooling make the maps 14x14 and 7x7 straight away (4x fewer positions than conv +
# pool at full size), and no augmentation: thicker strokes and tilts suit digits, not clothes.
PRESETS: dict[str, Preset] = {
    "fashion-fast": Preset(
        "Fashion-MNIST, fast to 90%", "fashion-mnist",
        {"filters": (16, 32), "kernel_size": 3, "stride": 2, "padding": 1, "pooling": "none",
         "batch_norm": True},
        {"epochs": 3, "batch": 128, "lr": 1e-2, "schedule": "onecycle", "augment": False},
    ),
}  # fmt: skip

# Views of the table for readers that want one column.
CLASS_NAMES = {name: d.class_names for name, d in DATASETS.items()}
DATASET_LABELS = {name: d.label for name, d in DATASETS.items()}  # every data set, in words
TRAIN_SIZES = {name: d.train_size for name, d in DATASETS.items()}  # training images


def dataset_info(name: str) -> DatasetInfo:
    """The row of `name`; DataError naming the known data sets otherwise."""
    if name not in DATASETS:
        known = ", ".join(repr(k) for k in DATASETS)
        raise DataError(f"unknown data set {name!r}; choose one of {known}")
    return DATASETS[name]


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no truth value; compare by identity
class Dataset:
    """Images and labels of one split of one data set. Arrays are read-only."""

    name: str  # "digits", "mnist" or "fashion-mnist"
    images: np.ndarray  # (N, 28, 28) uint8, 0 = background, 255 = ink
    labels: np.ndarray  # (N,) int64 class indices into class_names
    class_names: tuple[str, ...]  # label index -> human-readable name

    def __post_init__(self) -> None:
        shape, dtype = self.images.shape, self.images.dtype
        if len(shape) != 3 or dtype != np.uint8:
            raise DataError(f"images must be (N, H, W) uint8, got {shape} {dtype}")
        if self.labels.shape != shape[:1]:
            raise DataError(f"{shape[0]} images but labels of shape {self.labels.shape}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def as_float(self) -> np.ndarray:
        """Images as float32 in [0, 1], the model's input scale: (N, 28, 28)."""
        return self.images.astype(np.float32) / np.float32(255.0)

    def subset(self, n: int, seed: int) -> Dataset:
        """The first n samples of a permutation drawn from `seed` (all samples if n >= len)."""
        if n < 0:
            raise DataError(f"a subset needs n >= 0 samples, got {n}")
        order = np.random.default_rng(seed).permutation(len(self))[:n]  # (n,)
        return make_dataset(self.name, self.images[order], self.labels[order])


@dataclass(frozen=True, eq=False)
class Split:
    """A training set and a held-out test set of the same data set."""

    train: Dataset
    test: Dataset


def _read_only(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `array` that cannot be written to (safe to share between sessions)."""
    out = np.array(array, copy=True, order="C")
    out.flags.writeable = False
    return out


def make_dataset(name: str, images: np.ndarray, labels: np.ndarray) -> Dataset:
    """Dataset with read-only uint8 images and int64 labels, names from the table."""
    images = _read_only(np.asarray(images, dtype=np.uint8))  # (N, 28, 28)
    labels = _read_only(np.asarray(labels).astype(np.int64))  # (N,)
    return Dataset(name, images, labels, CLASS_NAMES[name])
