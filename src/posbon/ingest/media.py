"""Media reader: each media file becomes an Item with empty text and one MediaRef."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from posbon.domain import Item, MediaRef, Problem, media_kind_for


def media_item(root: Path, path: Path, source: str | None = None) -> Item | Problem:
    """An Item for the file `path` under the folder `root` (external id = its path relative to root).

    created_at is the file's modification time (UTC). A file whose real location is outside `root` (a
    symlink leading out) or that is empty gives a Problem.
    """
    file = str(path)
    try:
        real = path.resolve()
        if not real.is_relative_to(root.resolve()):
            return Problem(file, None, "a symlink that points outside the input folder; ignored")
        stat = real.stat()
    except (OSError, RuntimeError) as error:
        return Problem(file, None, f"cannot read ({getattr(error, 'strerror', None) or error})")
    if stat.st_size == 0:
        return Problem(file, None, "file is empty")
    relative = path.relative_to(root).as_posix()
    return Item(
        source=source or root.resolve().name,
        external_id=relative,
        text="",
        created_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        media=[MediaRef(reference=relative, path=real, kind=media_kind_for(path))],
        origin=file,
    )


def read_media_file(path: Path) -> Iterator[Item | Problem]:
    """One media file given on its own: source = the name of its folder."""
    yield media_item(path.parent, path)
