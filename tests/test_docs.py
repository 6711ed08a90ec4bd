"""The documentation says what the project does: every command written in README.md, docs/*.md and
results/README.md parses with the command line's own parser (the subcommand exists, every flag exists, a
value with fixed choices is one of them), every `python <script>.py` it names exists, every relative link
points to a file (and a heading, where it names one); README.md stays a front door (at most 15,000 bytes);
and the project speaks of itself alone, not of how it was made.

Fast and without TensorFlow: the parser is built (`cli.build_parser()`) and read, never run.
"""

import argparse
import glob
import json
import os
import re
import shlex

import pytest

from twostep import cli, configs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", *sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))),
        os.path.join("results", "README.md")]
README_LIMIT = 15_000  # bytes

# a command of the project: `two-step ...`, `python -m twostep[.cli] ...` or `python a2c_lstm.py ...`
PROGRAM = re.compile(r"(?:(?<=^)|(?<=[\s;&|(\"'`]))(two-step|python3? -m twostep(?:\.cli)?|python3? a2c_lstm\.py)(?=\s|$)")
SEPARATORS = {"&&", "||", ";", "|"}
SCRIPT = re.compile(r"\bpython3? ((?:[\w.-]+/)*[\w.-]+\.py)\b")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console"}

# words about how the project was made, not about what it is
PROCESS_WORDS = re.compile(r"(?:this|earlier|previous) stop|stop's|issue \d+|this session|\bsession's", re.I)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as file:
        return file.read()


def line_of(text, position):
    return text.count("\n", 0, position) + 1


def without_fences(text):
    """The text with every fenced block blanked (its newlines kept, so line numbers stay right)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def shell_lines(text):
    """(line number, logical line) of every shell code block: backslash continuations joined, `NAME="..."`
    assignments substituted where `$NAME` is used (the assignment itself is not a command)."""
    for fence in FENCE.finditer(text):
        if fence.group(1).strip().lower() not in SHELL_LANGUAGES:
            continue
        first = line_of(text, fence.start(2))
        variables, pending, start = {}, "", None
        for offset, raw in enumerate(fence.group(2).split("\n")):
            if start is None:
                start = first + offset
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            line, pending = (pending + raw).strip(), ""
            assignment = re.fullmatch(r"(\w+)=\"([^\"]*)\"", line)
            if assignment:
                variables[assignment.group(1)] = assignment.group(2)
            elif line:
                for name, value in variables.items():
                    line = re.sub(r"\$\{?" + name + r"\b\}?", lambda m: value, line)
                yield start, line
            start = None


def inline_spans(text):
    """(line number, text) of every inline code span outside fenced blocks (a span may wrap lines)."""
    prose = without_fences(text)
    for span in re.finditer(r"(?<!`)`([^`]+)`(?!`)", prose):
        yield line_of(prose, span.start()), " ".join(span.group(1).split())


def commands(text):
    """(line number, the command as written, its arguments after the program) of every project command in `text`."""
    for number, line in [*shell_lines(text), *inline_spans(text)]:
        for program in PROGRAM.finditer(line):
            try:
                tokens = shlex.split(line[program.start():], comments=True)
            except ValueError:  # an unbalanced quote: the rest of the line is not one command
                tokens = line[program.start():].split()
            tokens = tokens[len(program.group(1).split()):]
            end = next((i for i, token in enumerate(tokens) if token in SEPARATORS), len(tokens))
            written = " ".join([program.group(1), *tokens[:end]])
            yield number, written, tokens[:end]


def is_placeholder(token):
    return "..." in token or bool(re.search(r"<[^<>]+>", token))


def subcommands(parser):
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return actions[0].choices if actions else None


SAFE_TYPES = {cli.parse_seeds, cli.positive_int, cli.positive_float, int, float}  # no side effects (writable_file has)


def check_value(action, value):
    """What is wrong with `value` for `action`, or None."""
    if is_placeholder(value):
        return None
    if action.choices is not None and value not in action.choices:
        return f"{value!r} is not one of {sorted(action.choices)}"
    if action.dest == "settings":
        field, _, values = value.partition("=")
        try:
            for one in values.split(","):
                configs.parse_value(field, one)
        except ValueError as error:
            return str(error)
    elif action.type in SAFE_TYPES or getattr(action.type, "__qualname__", "").startswith("field_value"):
        try:
            action.type(value)
        except (argparse.ArgumentTypeError, ValueError) as error:
            return str(error)
    return None


def problems(arguments):
    """What is wrong with `two-step <arguments>` as the parser reads it: [] if nothing."""
    parser, names = cli.build_parser(), ["two-step"]
    position = 0
    while (choices := subcommands(parser)) is not None:
        if position == len(arguments) or arguments[position] in ("-h", "--help") or is_placeholder(arguments[position]):
            return []
        name = arguments[position]
        if name not in choices:
            return [f"unknown command {name!r} of `{' '.join(names)}` (expected one of {', '.join(choices)})"]
        parser = choices[name]
        names.append(name)
        position += 1
    found, free = [], []
    rest = arguments[position:]
    i = 0
    while i < len(rest):
        token = rest[i]
        if token.startswith("-") and len(token) > 1 and not re.fullmatch(r"-[\d.]+(e-?\d+)?", token):
            flag, equals, value = token.partition("=")
            action = parser._option_string_actions.get(flag)
            if action is None:
                found.append(f"unknown flag {flag} of `{' '.join(names)}`")
            elif action.nargs != 0:
                if not equals:
                    i += 1
                    value = rest[i] if i < len(rest) else None
                if value is not None and (wrong := check_value(action, value)) is not None:
                    found.append(f"{flag} {value}: {wrong}")
        else:
            free.append(token)
        i += 1
    positionals = [a for a in parser._actions if not a.option_strings]
    for action, value in zip(positionals, free):
        if (wrong := check_value(action, value)) is not None:
            found.append(f"{action.dest} {value}: {wrong}")
    return found


def all_commands():
    return [(path, number, written, arguments) for path in DOCS for number, written, arguments in commands(read(path))]


def test_the_docs_name_commands():
    found = all_commands()
    assert {path for path, *_ in found} >= {"README.md", os.path.join("results", "README.md")}
    assert len(found) > 50, len(found)


def test_every_command_parses():
    failures = [f"{path}:{number}: `{written}`: {problem}"
                for path, number, written, arguments in all_commands() for problem in problems(arguments)]
    assert not failures, "\n".join(failures)


def test_the_check_catches_a_wrong_command():
    assert problems(["train", "--task", "biorxiv-final", "--episodes", "10", "--out", "x"]) == []
    assert problems(["train", "--no-such-flag", "1"]) == ["unknown flag --no-such-flag of `two-step train`"]
    assert problems(["trian", "--task", "x"])[0].startswith("unknown command 'trian'")
    assert problems(["data", "fetch", "kool2016", "--from", "<mirror>"]) == []
    assert problems(["data", "fetch", "nobody2000"])[0].startswith("dataset nobody2000")
    assert problems(["sweep", "--set", "no_such_field=1"])[0].startswith("--set no_such_field=1")
    assert problems(["train", "--task", "daw-2012"])[0].startswith("--task daw-2012")
    line = 'pip install . && two-step train --task arxiv --episodes 5 \\\n    --out x --bad 1   # --worse'
    (number, written, arguments), = commands("```bash\n" + line + "\n```\n")
    assert written == "two-step train --task arxiv --episodes 5 --out x --bad 1"
    assert problems(arguments) == ["unknown flag --bad of `two-step train`"]


def test_every_script_named_exists():
    missing = [f"{path}:{line_of(text, m.start())}: `python {m.group(1)}`: no such file"
               for path in DOCS for text in [read(path)] for m in SCRIPT.finditer(text)
               if not os.path.isfile(os.path.join(ROOT, m.group(1)))]
    assert not missing, "\n".join(missing)


def heading_anchors(path):
    """GitHub's anchors of a Markdown file's headings."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", without_fences(read(path)), re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return anchors


def test_every_relative_link_points_to_a_file():
    broken = []
    for path in DOCS:
        text = without_fences(read(path))
        for link in LINK.finditer(text):
            target = link.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            file, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
            where = f"{path}:{line_of(text, link.start())}: ({target})"
            if not os.path.exists(os.path.join(ROOT, resolved)):
                broken.append(f"{where}: no such file {resolved}")
            elif anchor and resolved.endswith(".md") and anchor not in heading_anchors(resolved):
                broken.append(f"{where}: no heading #{anchor} in {resolved}")
    assert not broken, "\n".join(broken)


def test_readme_is_a_front_door():
    size = os.path.getsize(os.path.join(ROOT, "README.md"))
    assert size <= README_LIMIT, f"README.md is {size} bytes, over {README_LIMIT}: move the detail to docs/"


def process_word_hits():
    """{(path, matched words in lower case): [where]} over the documentation, the notebooks' cells (not their
    outputs) and the code: the package, the top-level modules, the tests (but this file) and the benchmarks."""
    code = [path for folder in ("twostep", "tests", "bench", ".") for path in sorted(glob.glob(f"{folder}/*.py", root_dir=ROOT))]
    files = [*DOCS, *sorted(glob.glob("*.ipynb", root_dir=ROOT)), *(path for path in code if not path.endswith("test_docs.py"))]
    hits = {}
    for path in files:
        if path.endswith(".ipynb"):
            cells = json.loads(read(path))["cells"]
            texts = [(f"cell {i}", "".join(cell["source"])) for i, cell in enumerate(cells)]
        else:
            texts = [("", read(path))]
        for where, text in texts:
            for match in PROCESS_WORDS.finditer(text):
                place = f"{path}{':' + where if where else ''}:{line_of(text, match.start())}"
                hits.setdefault((path, match.group(0).lower()), []).append(f"{place}: ...{text[max(0, match.start() - 40):match.end() + 20]!r}...")
    return hits


def test_the_project_speaks_of_itself_alone():
    new = process_word_hits()
    assert not new, "words about how the project was made:\n" + "\n".join(p for places in new.values() for p in places)


def test_the_notebooks_outputs_print_the_configs_as_the_code_has_them():
    """A committed output that prints a config (`TaskConfig(...)`, `AgentConfig(...)`, `RunConfig(...)`)
    names the fields the code has now: a notebook whose outputs predate a change of its configs was not
    executed on the code it is committed with."""
    import dataclasses

    stale = []
    for path in sorted(glob.glob("*.ipynb", root_dir=ROOT)):
        for index, cell in enumerate(json.loads(read(path))["cells"]):
            for output in cell.get("outputs", []):
                text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
                for name in ("TaskConfig", "AgentConfig", "RunConfig"):
                    fields = [field.name for field in dataclasses.fields(getattr(configs, name))]
                    for printed in re.finditer(name + r"\(([^()]*)\)", text):
                        if re.findall(r"(\w+)=", printed.group(1)) != fields:
                            stale.append(f"{path}: cell {index} prints a {name} whose fields are not the code's")
    assert not stale, "\n".join(stale)
