"""Where a run's files are: the reference layout `<out>/model_<seed>/model-<episode>/`, found
and checked without TensorFlow, so the command line can answer about paths at once.
"""

import glob
import os

CONFIG_FILE = "config.json"  # in every checkpoint folder: the configuration and the files' SHA-256


def checkpoint_path(out, seed, episode):
    """The reference layout: `<out>/model_<seed>/model-<episode>`."""
    return os.path.join(out, f"model_{seed}", f"model-{episode}")


def seeds_with_checkpoints(out):
    """The seeds whose folder `<out>/model_<seed>` holds at least one checkpoint, in order."""
    suffixes = (d.rsplit("_", 1)[1] for d in glob.glob(os.path.join(out, "model_*")))
    return sorted(int(s) for s in suffixes if s.isdigit() and existing_checkpoints(os.path.join(out, f"model_{s}")))


def latest_checkpoints(out):
    """The newest `model_<seed>/model-<episode>` folder of every seed under `out`, by seed."""
    paths = [existing_checkpoints(os.path.join(out, f"model_{seed}"))[-1] for seed in seeds_with_checkpoints(out)]
    if not paths:
        raise FileNotFoundError(f"no checkpoints model_<seed>/model-<episode> under {out!r}")
    return paths


def existing_checkpoints(parent):
    """Checkpoint folders `model-<episode>` under `parent`, oldest first."""
    if not os.path.isdir(parent):
        return []
    found = [d for d in os.listdir(parent) if d.startswith("model-") and d[len("model-") :].isdigit()]
    return [os.path.join(parent, d) for d in sorted(found, key=lambda d: int(d[len("model-") :]))]


def checkpoints_to_evaluate(paths):
    """The checkpoints named by `paths`: each a checkpoint folder (or a TF1 prefix), or a run
    folder, for the newest checkpoint of each of its seeds. FileNotFoundError naming a path that
    is none of these."""
    found = []
    for path in paths:
        if os.path.isdir(path) and not os.path.basename(os.path.normpath(path)).startswith("model") and seeds_with_checkpoints(path):
            found.extend(latest_checkpoints(path))
        elif os.path.exists(path) or os.path.isfile(str(path) + ".index"):
            found.append(path)
        else:
            raise FileNotFoundError(f"no checkpoint or run folder at {path!r}")
    return found


def check_writable(out):
    """Create `out` if needed and prove a file can be written there; OSError naming it if not."""
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise OSError(f"--out {out!r} is not writable: {error.strerror or error}") from error


def write_atomically(path, write):
    """`write(partial)` to `path` + ".partial", then renamed into place: the file is complete or absent."""
    partial = path + ".partial"
    write(partial)
    os.replace(partial, path)


def files_to_write(paths, folder, done_phrase, say=print):
    """The keys of `paths` (key -> file under `folder`) whose file is not yet written. Says how many
    are ("k of n <done_phrase> under <folder>: skipped") and how many other files the folder
    holds, from other settings, people or data, which a resumed run ignores."""
    todo = [key for key, path in paths.items() if not os.path.isfile(path)]
    if len(todo) < len(paths):
        say(f"{len(paths) - len(todo)} of {len(paths)} {done_phrase} under {folder}: skipped")
    others = set(glob.glob(os.path.join(folder, "*.csv"))) - set(paths.values())
    if others:
        say(f"{len(others)} files under {folder} are from other settings, people or data: ignored")
    return todo
