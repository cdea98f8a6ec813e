"""Report commands never overwrite a file mfsearch did not write: each output folder outside
this project's own reports/ keeps a list of the files mfsearch wrote there."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import UserError

MANIFEST = ".mfsearch-written"


def in_checkout(folder: Path = Path(".")) -> bool:
    """Whether `folder` is a checkout of mfsearch (its reports/ folder is the project's)."""
    project = folder / "pyproject.toml"
    try:
        return project.is_file() and 'name = "mfsearch"' in project.read_text(encoding="utf-8")
    except OSError:
        return False


def _project_reports(folder: Path) -> bool:
    """Inside reports/ of the checkout the current folder is: every file there is ours."""
    reports = Path("reports").resolve()
    return in_checkout() and folder.resolve().is_relative_to(reports)


def _written(folder: Path) -> set[str]:
    try:
        return set((folder / MANIFEST).read_text(encoding="utf-8").split("\n")) - {""}
    except OSError:
        return set()


def claim(folder: Path, names: Iterable[str]) -> list[str]:
    """The files (relative to `folder`) a command is about to write; an error, before anything
    is written, if one of them exists and mfsearch did not write it."""
    names = list(names)
    if _project_reports(folder):
        return names
    written = _written(folder)
    for name in names:
        if (folder / name).exists() and name not in written:
            raise UserError(f"{folder / name}: exists and was not written by mfsearch; pass "
                            "another --out")
    return names


def remember(folder: Path, names: Iterable[str]) -> None:
    """Note that mfsearch wrote these files (outside the project's reports/)."""
    if _project_reports(folder):
        return
    written = _written(folder) | set(names)
    (folder / MANIFEST).write_text("\n".join(sorted(written)) + "\n", encoding="utf-8")
