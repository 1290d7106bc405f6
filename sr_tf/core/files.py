"""Writing files and folders so that a reader never sees half of one: temp name, then rename."""
import os
import pathlib
import shutil
import uuid


def write_text_atomically(path, text):
    """Writes `text` to a temporary file beside `path`, then renames it: never a half-written file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def temporary_sibling(path):
    """A fresh name next to `path` (same folder, so os.replace is atomic)."""
    path = os.path.abspath(os.fspath(path))
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")


def replace_directory(source, target):
    """Moves the finished directory `source` to `target`, replacing an older `target`."""
    if os.path.isdir(target):
        old = temporary_sibling(target)
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old)
    else:
        os.replace(source, target)
