"""Class folders: the layout the folder sources (``image-folder``, ``audio-folder``) read.

A folder holds one subfolder per class (its name is the class name; classes are sorted by name)
of files of one kind, subfolders inside a class included::

    FOLDER/CLASS/file          split per class by a seeded shuffle (val_fraction, test_fraction)
    FOLDER/train/CLASS/file    with FOLDER/val/CLASS/... and FOLDER/test/CLASS/... when present
                               (a missing val/ or test/ is carved out of train/ the same way)

Hidden files and folders and the files an operating system leaves behind (``SYSTEM_FILES``) are
skipped; any other file of another kind is refused in one line naming it, so that nothing is
left out unnoticed. :func:`labelled_files` checks the whole layout (at least two classes, no
class in val/ or test/ that train/ lacks, no empty split) before a single file is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import field
from ..errors import AnnError
from .vision import stratified_split

SPLIT_FOLDERS = ("train", "val", "test")
# Files an operating system leaves in folders of pictures or recordings; skipped, not refused.
SYSTEM_FILES = ("thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class FolderKind:
    """What one folder source reads, for its messages: ``dataset`` (``"image-folder"``),
    ``noun`` (``"images"``), ``extensions`` (``(".png", ...)``), ``example`` (``"image.png"``);
    ``companion``: the ending of a file that travels with one of the source's files (a graph's
    ``NAME.nodes.csv`` beside its ``NAME.csv``): it is not an example, and is refused when the
    file it belongs to is missing."""

    dataset: str
    noun: str
    extensions: tuple[str, ...]
    example: str
    companion: str = ""


def split_option(name: str, noun: str):
    """The options field ``data.val_fraction``, ``data.test_fraction`` or ``data.split_seed``
    (``name``) of a folder source of ``noun`` (``"images"``)."""
    if name == "split_seed":
        return field(0, f"seed of the shuffle that splits the {noun}", nonneg=True)
    split = name.removesuffix("_fraction")
    purpose = {"val": "validation", "test": "testing"}[split]
    return field(0.1, f"share of each class held out for {purpose} (when the folder has no "
                 f"{split}/ subfolder)", range=(0.0, 0.9))


def check_folder(path: str, kind: FolderKind) -> Path:
    """``data.path`` as a folder that holds files; one line saying what to give otherwise."""
    if not path:
        raise AnnError(f"{kind.dataset} needs your {kind.noun}: data.path=FOLDER holding one "
                       f"subfolder of {kind.noun} per class")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise AnnError(f"data.path={path!r} is not a folder; give the folder holding one "
                       f"subfolder of {kind.noun} per class")
    if not any(f.is_file() for f in folder.rglob("*")):
        raise AnnError(f"{folder} is empty; put your {kind.noun} in one subfolder per class "
                       f"({folder}/CLASS/{kind.example})")
    return folder


def folder_stamp(folder: Path) -> tuple:
    """Names, sizes and times of every file under ``folder``: a changed folder is read again
    (a reader's cache key)."""
    return tuple((str(f), s.st_size, s.st_mtime_ns)
                 for f in sorted(folder.rglob("*")) if f.is_file() for s in [f.stat()])


def _class_files(folder: Path, kind: FolderKind) -> list[Path]:
    """The files of ``kind`` under a class folder (sorted, subfolders included); any other
    file is refused."""
    files = []
    for file in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in file.relative_to(folder).parts) or file.is_dir():
            continue
        if file.name.lower() in SYSTEM_FILES:
            continue
        if kind.companion and file.name.endswith(kind.companion):
            owner = file.with_name(file.name[:-len(kind.companion)] + kind.extensions[0])
            if not owner.is_file():
                raise AnnError(f"{file} has no {owner.name} beside it; add it or remove the file")
            continue
        if file.suffix.lower() not in kind.extensions:
            raise AnnError(f"{file}: cannot read {file.suffix or 'files without an extension'}; "
                           f"give {kind.noun} ending in {', '.join(kind.extensions)}, or move it "
                           f"out of {folder.parent}")
        files.append(file)
    return files


def _class_folders(root: Path, kind: FolderKind) -> dict[str, list[Path]]:
    """``{class: [files]}`` of the class subfolders of ``root``, sorted by name."""
    loose = [f for f in root.iterdir() if f.is_file() and f.suffix.lower() in kind.extensions]
    if loose:
        raise AnnError(f"{loose[0]} lies directly in {root}; put each file in a subfolder "
                       f"named after its class ({root}/CLASS/{loose[0].name})")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    out = {name: _class_files(root / name, kind) for name in classes}
    for name, files in out.items():
        if not files:
            raise AnnError(f"{root / name} holds no {kind.noun}; add some "
                           f"({', '.join(kind.extensions)}) or remove the folder")
    return out


def _layout(folder: Path, kind: FolderKind) -> dict[str, dict[str, list[Path]]]:
    """``{split: {class: [files]}}`` for the splits the folder itself holds (train/ val/ test/
    folders), else ``{"all": {...}}``."""
    present = [s for s in SPLIT_FOLDERS if (folder / s).is_dir()]
    if not present:
        return {"all": _class_folders(folder, kind)}
    if "train" not in present:
        raise AnnError(f"{folder} has {'/ '.join(present)}/ but no train/ folder; add train/CLASS/"
                       f" folders of training {kind.noun}")
    return {s: _class_folders(folder / s, kind) for s in present}


def every_file(folder: Path, kind: FolderKind) -> list[Path]:
    """Every file of ``kind`` the layout holds, in all its splits and classes (for a source that
    checks each file's contents before the split is decided)."""
    return [f for found in _layout(folder, kind).values() for files in found.values()
            for f in files]


def labelled_files(folder: Path, kind: FolderKind, val_fraction: float, test_fraction: float,
                   seed: int) -> tuple[tuple[str, ...], dict[str, list[tuple[Path, int]]]]:
    """``(classes, {split: [(file, class index)]})`` for train, val and test: the folder's own
    splits, the missing ones carved out per class by a seeded shuffle. Nothing is read."""
    layout = _layout(folder, kind)
    classes = sorted(layout.get("train", layout.get("all")))
    if len(classes) < 2:
        where = folder / "train" if "train" in layout else folder
        raise AnnError(f"{where} holds {len(classes)} class folder"
                       f"{'' if len(classes) == 1 else 's'}; a classifier needs at least 2 "
                       f"(one subfolder of {kind.noun} per class)")
    for split, found in layout.items():
        unseen = sorted(set(found) - set(classes))
        if unseen:
            raise AnnError(f"{folder / split / unseen[0]}: class {unseen[0]!r} has no {kind.noun} "
                           f"in {folder / 'train'}; add training {kind.noun} of it or remove the "
                           "folder")
    rows = {split: [(f, classes.index(c)) for c in sorted(found) for f in found[c]]
            for split, found in layout.items()}
    return tuple(classes), _carve(rows, folder, kind, val_fraction, test_fraction, seed)


def _carve(rows: dict, folder: Path, kind: FolderKind, val_fraction: float,
           test_fraction: float, seed: int) -> dict[str, list[tuple[Path, int]]]:
    """Train, val and test rows: the splits the folder lacks are cut from ``train`` (or from
    the single pool), per class by a seeded shuffle."""
    pool = rows.pop("all", None) or rows.pop("train")
    wanted = {s: f for s, f in (("val", val_fraction), ("test", test_fraction)) if s not in rows}
    if sum(wanted.values()) >= 1:
        raise AnnError(f"data.val_fraction + data.test_fraction = {sum(wanted.values()):g} leaves "
                       f"no training {kind.noun}; keep their sum below 1")
    labels = np.array([c for _, c in pool], dtype=np.int64)
    parts = stratified_split(labels, {**wanted, "train": 0.0}, seed)
    out = {**rows, **{s: [pool[i] for i in idx] for s, idx in parts.items()}}
    for split in SPLIT_FOLDERS:
        if not out[split]:
            option = {"train": "data.val_fraction and data.test_fraction",
                      "val": "data.val_fraction", "test": "data.test_fraction"}[split]
            raise AnnError(f"{folder}: the {split} split gets no {kind.noun} ({len(pool)} to "
                           f"share); add {kind.noun} or adjust {option}")
    return {split: out[split] for split in SPLIT_FOLDERS}
