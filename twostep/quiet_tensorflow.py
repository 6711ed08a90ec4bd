"""TensorFlow, imported without its C++ start-up noise: `from quiet_tensorflow import tf`.

TensorFlow's C++ layer writes a few lines to stderr when it loads and when it first looks for
devices (CUDA probes on a machine without a GPU, oneDNN and CPU-feature notices, one of them an
"E0000 ... failed call to cuInit" that looks like a failure), before any log level applies.
Every module of this project imports TensorFlow through here: the log level is set to errors
only (unless TF_CPP_MIN_LOG_LEVEL is set), and file descriptor 2 goes to /dev/null for the
import and the device start-up alone, so a real import error still shows its traceback.

It also runs TensorFlow's operations on one thread each (TF_NUM_INTRAOP_THREADS=1 unless set).
The agent's operations are small (a 48-unit LSTM over a few to a few hundred seeds): splitting
each over threads costs more than it gains: on 2 cores, 8 seeds of biorxiv-final trained 3% and
13% faster on one thread than on two in two runs, with the same bits (bench/bench_train.py measures it), and
the other cores stay free for the checkpoint writer, TensorBoard and parallel Ray tasks. Set
TF_NUM_INTRAOP_THREADS before the first import of TensorFlow to change it.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def _silenced_stderr():
    """Send file descriptor 2 to /dev/null for the duration, then restore it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
with _silenced_stderr():
    import tensorflow as tf

    tf.config.list_logical_devices()

__all__ = ["tf"]
