"""What the home page offers for the model in use: the kind of picture it reads (handwritten
digits or clothes), the words for it, and the held-out samples of its data set to pick from.

The data set is told by the model's class names: the bundled and full MNIST both have the digits
0-9, Fashion-MNIST its ten kinds of clothing (cnn_core.data.CLASS_NAMES). A model file with other
class names gets plain wording and no samples. Plain values only: nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnn_core.data import CLASS_NAMES, DataError, Dataset

from . import state

# One Fashion-MNIST class in words, as a learner would say it, in class order.
FASHION_ITEMS = (
    "a T-shirt or top",
    "trousers",
    "a pullover",
    "a dress",
    "a coat",
    "a sandal",
    "a shirt",
    "a sneaker",
    "a bag",
    "an ankle boot",
)


@dataclass(frozen=True)
class Subject:
    """What the model in use reads, in words."""

    dataset: str | None  # "digits" or "fashion-mnist"; None: other classes, no samples
    noun: str  # one input: "digit", "piece of clothing", "picture"
    heading: str  # the page title
    intro: str  # the name of the learner-facing text in assets/


DIGITS = Subject("digits", "digit", "Draw a digit, watch the network read it", "draw_intro")
FASHION = Subject(
    "fashion-mnist",
    "piece of clothing",
    "Watch the network tell clothes apart",
    "draw_intro_fashion",
)
OTHER = Subject(None, "picture", "Draw a picture, watch the network read it", "draw_intro_other")


def subject_of(class_names) -> Subject:
    """The subject of a model with these class names."""
    names = tuple(class_names)
    if names == CLASS_NAMES["fashion-mnist"]:
        return FASHION
    return DIGITS if names == CLASS_NAMES["digits"] else OTHER


def samples(subject: Subject) -> Dataset | None:
    """The held-out split of the subject's data set (None when it has none or the data set is
    not on this server); loaded once per process and shared read-only."""
    if subject.dataset is None:
        return None
    try:
        return state.dataset_split(subject.dataset).test
    except DataError:
        return None


def item(subject: Subject, label: int) -> str:
    """One sample of class ``label`` in words: "digit 4", "a sneaker", "trousers"."""
    return FASHION_ITEMS[label] if subject is FASHION else f"{subject.noun} {label}"


def use_label(subject: Subject, label: int, example: int | None = None) -> str:
    """A gallery button's name: "Use digit 4", or "Use digit 4, example 2" when a row shows
    several samples of one class."""
    name = f"Use {item(subject, label)}"
    return name if example is None else f"{name}, example {example}"


def source(subject: Subject, index: int, label: int) -> str:
    """The current input's description for held-out sample ``index`` of class ``label``."""
    if subject is FASHION:
        return f"held-out Fashion-MNIST image #{index} ({item(subject, label)})"
    return f"held-out digit #{index} (label {label})"
