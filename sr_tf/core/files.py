"""Writing files and folders so that a reader never sees half of one: temp name, then rename. This
module is the one place that does it (`write_atomically` with a writer callback; bytes, text and
folders on top of it).

Every output is checked before the work starts (`check_writable`), and every write runs inside
`writing(path)`, which makes the missing parent folders, removes them again if the write fails,
and turns a failure (read-only, a path under a file, no space left) into one `OutputError` that
names the path.
"""

import contextlib
import os
import shutil
import sys
import tempfile
import uuid

from sr_tf.core.errors import OutputError

# What a failed write says, in OSError's and TensorFlow's words (TF's messages name temporary files).
WRITE_FAILURES = (
    "No space left on device",
    "Read-only file system",
    "Permission denied",
    "Not a directory",
    "Disk quota exceeded",
    "File too large",
)


def _missing_parents(path):
    """The folders to make for `path`, outermost first; OutputError when an ancestor is a file."""
    missing, folder = [], os.path.dirname(path)
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
    return missing[::-1]


def check_writable(path):
    """Checks, before any work, that `path` (a file or a folder to write) can be made: its
    nearest existing folder takes a new entry. Nothing is left behind; the missing parent
    folders are made when the output is written. OutputError naming `path` otherwise."""
    path = os.path.abspath(os.fspath(path))
    missing = _missing_parents(path)
    folder = os.path.dirname(missing[0]) if missing else os.path.dirname(path)
    if not missing and os.path.isdir(path):
        folder = path  # an existing folder: the output goes inside it
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".sr_tf_check_", dir=folder))
    except OSError as error:
        raise output_error(path, error) from None
    return path


def output_error(path, error):
    """OutputError naming `path` and the reason of `error` (an OSError or a TensorFlow error)."""
    text = (
        error.strerror
        if isinstance(error, OSError) and error.strerror
        else str(getattr(error, "message", error))
    )
    reason = next((r for r in WRITE_FAILURES if r.lower() in text.lower()), None)
    return OutputError(f"cannot write {path}: {reason or text.strip().splitlines()[0]}")


def is_write_failure(error):
    """An OSError, or a TensorFlow error whose message says the file system refused a write."""
    if isinstance(error, OSError):
        return True
    tf = sys.modules.get("tensorflow")
    if tf is None or not isinstance(error, tf.errors.OpError):
        return False
    return any(reason.lower() in str(error.message).lower() for reason in WRITE_FAILURES)


@contextlib.contextmanager
def writing(path):
    """Wraps the block that writes `path` (a file or a folder): makes the missing parent folders
    first and, if the block fails, removes the ones it made and raises a write failure as
    OutputError naming `path`. Yields the absolute path."""
    path = os.path.abspath(os.fspath(path))
    made = []
    try:
        for folder in _missing_parents(path):
            os.mkdir(folder)
            made.append(folder)
        yield path
    except BaseException as error:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only if still empty
        if isinstance(error, OutputError) or not is_write_failure(error):
            raise
        raise output_error(path, error) from error


def temporary_sibling(path, suffix=".tmp"):
    """A fresh hidden name next to `path` (same folder, so os.replace is atomic), ending in `suffix`."""
    path = os.path.abspath(os.fspath(path))
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}{suffix}")


def write_atomically(path, write, suffix=".tmp"):
    """Runs `write(temp)` on a fresh name beside `path`, then renames the file to `path`: a reader
    never sees half a file. `write` may check what it wrote and raise; then nothing is left (the
    missing folders made for it are removed too). `suffix`: what the temporary name ends with, for
    writers that insist on one (Keras: `.keras`). Inside `writing(path)`; returns the absolute path."""
    with writing(path) as path:
        temp = temporary_sibling(path, suffix)
        try:
            write(temp)
            os.replace(temp, path)
        finally:
            if os.path.lexists(temp):
                os.remove(temp)
    return path


def write_bytes_atomically(path, content):
    """Writes `content` to `path` atomically (`write_atomically`)."""

    def write(temp):
        with open(temp, "xb") as f:  # a normal open keeps the user's umask (mkstemp would make it 0600)
            f.write(content)

    return write_atomically(path, write)


def write_text_atomically(path, text):
    """Writes `text` (UTF-8) to `path` atomically (`write_atomically`)."""
    return write_bytes_atomically(path, text.encode("utf-8"))


def write_directory_atomically(path, write):
    """Runs `write(temp)` to fill a fresh folder beside `path`, then puts that folder in place of
    `path` (an older folder there is removed once the new one is in place). As `write_atomically`:
    nothing is left when `write` raises. Returns the absolute path."""
    with writing(path) as path:
        temp = temporary_sibling(path)
        try:
            os.mkdir(temp)
            write(temp)
            _replace_directory(temp, path)
        finally:
            if os.path.isdir(temp):
                shutil.rmtree(temp)
    return path


def _replace_directory(source, target):
    """Moves the finished directory `source` to `target`, replacing an older `target`."""
    if os.path.isdir(target):
        old = temporary_sibling(target)
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old)
    else:
        os.replace(source, target)
