"""Keeps TensorFlow's harmless native start-up lines off a command's console.

TensorFlow's C++ side writes straight to file descriptor 2, before and regardless of
TF_CPP_MIN_LOG_LEVEL: a banner per shared library ("All log messages before absl::InitializeLog()",
"oneDNN custom operations are on", "Could not find cuda drivers"), `E0000 ... failed call to
cuInit` on every machine without a GPU, and later `E0000` lines that are not errors (oneDNN's
uint8 note on AVX-512 CPUs, the SavedModel loader's "NodeDef mentions attribute Truncate").
`drop_tensorflow_noise()` routes descriptor 2 through a thread that drops exactly those lines and
passes every other line on at once, so real errors and tracebacks still show. Commands call it
before TensorFlow loads; SR_TF_RAW_STDERR=1 turns it off.

`logs_above_bars()` keeps log lines from breaking into a tqdm progress bar.
"""

import atexit
import contextlib
import logging as python_logging
import os
import sys
import threading

NOISE = tuple(
    marker.encode()
    for marker in (
        "All log messages before absl::InitializeLog() is called",
        "oneDNN custom operations are on",
        "Could not find cuda drivers on your machine",
        "failed call to cuInit",
        "oneDNN supports DT_UINT8 only on platforms with AVX-512",
        "NodeDef mentions attribute Truncate",
        "Created TensorFlow Lite XNNPACK delegate",  # LiteRT's INFO line at every interpreter start
    )
)
# A failed write makes TensorFlow's C++ log the failed op (and the rendezvous it aborts) with the
# file system's reason; the Python error that follows is reported in one line naming the path.
REPORTED_WRITE_FAILURES = tuple(
    reason.encode() for reason in ("No space left on device", "Read-only file system")
)
_state = {"installed": False}


def is_noise(line):
    """True for a line (bytes) TensorFlow prints on every healthy CPU machine, or a native log
    line of a failed write, which the command reports itself."""
    if any(marker in line for marker in NOISE):
        return True
    native_log = line[:1] in (b"W", b"E") and line[1:5].isdigit()
    return native_log and any(reason in line for reason in REPORTED_WRITE_FAILURES)


@contextlib.contextmanager
def logs_above_bars():
    """While the block runs, absl log lines are printed above tqdm's progress bars (tqdm.write)
    instead of through the bar's line."""
    from absl import logging
    from tqdm import tqdm

    handler = logging.get_absl_handler()

    class Above(python_logging.Filter):
        def filter(self, record):
            tqdm.write(handler.format(record), file=sys.stderr)
            return False

    above = Above()
    handler.addFilter(above)
    try:
        yield
    finally:
        handler.removeFilter(above)


def drop_tensorflow_noise():
    """Filters this process's descriptor 2 (and its children's) from now until exit; once. Also
    quiets TF's C++ INFO lines (TF_CPP_MIN_LOG_LEVEL=2) unless the user chose a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _state["installed"] or os.environ.get("SR_TF_RAW_STDERR") == "1":
        return
    _state["installed"] = True
    sys.stderr.flush()
    console = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forwarder = threading.Thread(target=_forward, args=(read_end, console), name="stderr-filter", daemon=True)
    forwarder.start()
    atexit.register(_restore, console, forwarder)


def _forward(read_end, console):
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            kept = [line + b"\n" for line in lines if not is_noise(line)]
            if kept:
                os.write(console, b"".join(kept))
        if pending and not is_noise(pending):
            os.write(console, pending)


def _restore(console, forwarder):
    """At exit: descriptor 2 back to the console, and every line still in the pipe passed on."""
    sys.stderr.flush()
    os.dup2(console, 2)  # closes the pipe's last write end: the forwarder reads to the end and stops
    forwarder.join(timeout=10)
