"""Every figure the docs quote traces to a source: the scan behind tests/unit/test_docs.py.

    python -m tools.docfigures          list the untraced figures not in the backlog (exit 1 if any)

A *figure* is a number with a unit in Markdown prose: seconds, minutes, hours, days, ms, %, dollars
(``$1.20``), timeline marks (``T+58``, ``T+58/110``) and scenario counts (``36 scenarios``). Code blocks,
inline code and link targets are not prose and are not scanned. Files: README.md, every docs/*.md,
CHANGELOG.md's current (first) version section, and examples/*/README.md.

A figure is traced when one of these holds (checked in this order):

1. **generated**: it is a value ``make docs`` writes (a :class:`tools.docsync.Quote`). To add a figure
   that is computed from the template, ``make rto`` or the code, add a Quote there and run ``make docs``.
2. **quoted**: it stands inside a quotation (``"..."``, or a ``>`` blockquote line). This is how a
   sourced AWS fact is marked: quote the AWS page's words and link the page, e.g.
   ``CloudWatch: "If the alarm period is 10 seconds or 30 seconds, the alarm is evaluated every 10 seconds"``.
3. **named**: its sentence (or table row) names its source in backticks, and the value is that source's:
   a template parameter (its ``Default``, ``MinValue``, ``MaxValue`` or one of its ``AllowedValues``;
   "N s by default" must be the ``Default``), a variable a function's ``Environment`` sets or
   ``gdfailover/config.py`` reads (its default and bounds), a numeric constant of ``gdfailover``,
   ``gds_client`` or ``tools`` (e.g. ``SECRET_CACHE_SECONDS``; a ``timedelta`` in seconds), an alarm's
   logical id (its threshold, period and evaluation window) or a function's (its ``Timeout``). Minutes,
   hours and days are compared in seconds too (``LOCAL_HEALTH_MAX_AGE_SECONDS`` = 300 matches "5 minutes").
4. **modelled**: its sentence names ``make rto`` and the value is one ``make rto`` prints at the template
   defaults (the timing model, the profiles, the cost lines) or one of its unit prices (``PRICE_*``).
5. **allowed**: listed in :data:`ALLOWED` with the source a reader can check, e.g. the test that reads
   the sentence back (the last resort; keep it short).

A source named elsewhere in the paragraph (not in the figure's own sentence) counts only for its settled
value: a parameter's ``Default``, a constant's value. Figures written before this scan that no rule traces
yet are listed in ``tools/docfigures-pending.txt`` (the backlog: accepted until their sentence changes,
never added to). Anything else fails the test, naming the file, line and figure: generate it, name its
source, quote it, or cut it (a doc that says "see `make rto`" cannot drift).

    python -m tools.docfigures --all    every untraced figure, the backlog included
    python -m tools.docfigures --prune  drop backlog lines whose figure is traced or whose sentence changed
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tools.cfn import ROOT, load_template

#: The last resort: (file, a regular expression matched against the figure's sentence) -> the source.
#: Each entry says where a reader checks the number.
ALLOWED: dict[tuple[str, str], str] = {
    ("docs/parameters.md", r"^- Writer alarm: `HealthCheckStatus`, `Maximum`, period 60 s"): (
        "read back from template.yaml by tests/unit/test_docs.py::test_the_fixed_writer_alarm_is_the_template_one"
    ),
}

UNITS = r"(?:ms|s|sec|seconds?|minutes?|min|hours?|h|days?|%|scenarios)"
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
FIGURE = re.compile(
    rf"(?<![\w.+/$-])(?:"
    rf"\$(?P<dollars>{_NUMBER})"
    rf"|T\+(?P<mark>{_NUMBER}(?:/{_NUMBER})?)"
    rf"|(?P<value>{_NUMBER}(?:\s?(?:-|\u2013|to|/|or)\s?{_NUMBER})?)\s?(?P<unit>{UNITS})"
    rf")(?![\w])"
)
SECONDS_PER = {"minute": 60.0, "min": 60.0, "hour": 3600.0, "h": 3600.0, "day": 86400.0}
_IDENTIFIER = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(?:=[^`]*)?`")


@dataclass(frozen=True)
class Figure:
    path: str
    line: int
    text: str
    sentence: str
    #: the paragraph (or table row) around the sentence: where a source named nearby is looked for
    paragraph: str = ""

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r} in: {self.sentence.strip()[:160]}"


def doc_files(root: Path = ROOT) -> list[Path]:
    return [
        root / "README.md",
        *sorted((root / "docs").glob("*.md")),
        root / "CHANGELOG.md",
        *sorted((root / "examples").glob("*/README.md")),
    ]


def _current_changelog_section(text: str) -> str:
    """The first version section; later (released) sections are history and are kept as written."""
    starts = [m.start() for m in re.finditer(r"(?m)^## ", text)]
    if len(starts) < 2:
        return text
    return text[: starts[1]] + re.sub(r"[^\n]", " ", text[starts[1] :])


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def prose(text: str) -> str:
    """The text with code, link targets and HTML comments blanked (offsets and lines kept)."""
    text = re.sub(r"(?ms)^```.*?^```", _blank, text)
    text = re.sub(r"<!--.*?-->", _blank, text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", _blank, text)
    return text


def _without_code_spans(text: str) -> str:
    return re.sub(r"`[^`\n]*`", _blank, text)


def _sentences(text: str) -> Iterator[tuple[int, int, int, int]]:
    """(start, end) of each sentence or table row, and of its paragraph (a table row is its own)."""
    for block in re.finditer(r"(?ms)(?:^(?!\s*$).*?$\n?)+", text):
        start = block.start()
        body = block.group(0)
        if body.lstrip().startswith("|"):
            offset = start
            for row in body.splitlines(keepends=True):
                yield offset, offset + len(row), offset, offset + len(row)
                offset += len(row)
            continue
        cursor = 0
        for end in re.finditer(r"(?<=[.!?;])\s+(?=[A-Z(`*\[])|\n(?=\s*(?:[-*]|\d+\.)\s)", body):
            yield start + cursor, start + end.start(), start, start + len(body)
            cursor = end.end()
        yield start + cursor, start + len(body), start, start + len(body)


def figures(path: Path, root: Path = ROOT) -> list[Figure]:
    return figures_in(path.read_text(encoding="utf-8"), str(path.relative_to(root)))


def figures_in(raw: str, relative: str) -> list[Figure]:
    """The figures of one file's text (``relative``: its path in the repository)."""
    if relative == "CHANGELOG.md":
        raw = _current_changelog_section(raw)
    text = prose(raw)
    scan = _without_code_spans(text)
    found = []
    for start, end, block_start, block_end in _sentences(text):
        for match in FIGURE.finditer(scan, start, end):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Figure(relative, line, match.group(0), raw[start:end], raw[block_start:block_end]))
    return found


# --- sources ---------------------------------------------------------------------------------------


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", text)}


def figure_values(figure: str) -> set[float]:
    """The figure's (first) number, and the same in seconds when its unit is minutes, hours or days."""
    first = float(re.findall(r"\d[\d,]*(?:\.\d+)?", figure)[0].replace(",", ""))
    unit = re.search(r"(minute|min|hour|h|day)s?$", figure)
    return {first, first * SECONDS_PER[unit.group(1)]} if unit else {first}


def _number(raw: Any) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


@cache
def named_sources(root: Path = ROOT) -> dict[str, set[float]]:
    """Every backtick-able source name -> the values a doc may quote for it."""
    template = load_template(root / "template.yaml")
    sources: dict[str, set[float]] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        values = [spec.get("Default"), spec.get("MinValue"), spec.get("MaxValue"), *spec.get("AllowedValues", [])]
        sources[name] = {v for v in map(_number, values) if v is not None}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::CloudWatch::Alarm":  # "`EngineCpuAlarm`: above 80 % for 5 minutes"
            sources[logical_id] = _alarm_figures(resource["Properties"])
        timeout = _number(resource.get("Properties", {}).get("Timeout"))
        if timeout is not None:  # "`ProbeFunction` times out at 10 s"
            sources.setdefault(logical_id, set()).add(timeout)
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            number = _number(value)
            if number is not None:
                sources.setdefault(name, set()).add(number)
    modules = [
        *(root / "layers/shared/gdfailover").glob("*.py"),
        *(root / "examples/client-python/gds_client").glob("*.py"),
        *(root / "tools").rglob("*.py"),
    ]
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for name, numbers in _environment_reads(tree):
            sources.setdefault(name, set()).update(numbers)
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(node, ast.AnnAssign):
                target = node.target
            value = getattr(node, "value", None)
            if isinstance(target, ast.Name) and target.id.isupper() and value is not None:
                number = _constant(value)
                if number is not None:
                    sources.setdefault(target.id, set()).add(number)
                elif isinstance(value, ast.Call) and getattr(value.func, "id", "") == "Config":
                    sources.setdefault(target.id, set()).update(_config_numbers(value))
    return sources


def _alarm_figures(props: dict[str, Any]) -> set[float]:
    """An alarm's literal threshold, period and evaluation window (periods x period, in seconds)."""
    periods = [_number(props.get("Period"))]
    periods += [_number(q["MetricStat"].get("Period")) for q in props.get("Metrics", []) if "MetricStat" in q]
    period = next((p for p in periods if p is not None), None)
    evaluations = _number(props.get("EvaluationPeriods"))
    found = {v for v in (_number(props.get("Threshold")), period, evaluations) if v is not None}
    if period is not None and evaluations is not None:
        found.add(period * evaluations)
    return found


def _config_numbers(call: ast.Call) -> set[float]:
    """A botocore ``Config(...)``'s timeouts and attempts (``BOUNDED_CONFIG``: connect 1 s, read 2 s, 2 attempts)."""
    found = set()
    for node in ast.walk(call):
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            found.add(float(node.value))
    return found


def _environment_reads(tree: ast.Module) -> Iterator[tuple[str, list[float]]]:
    """``env_int(env, "NAME", default, low, high)`` and the like: the variable's default and bounds."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not getattr(node.func, "id", "").startswith("env_"):
            continue
        names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        numbers = [n for n in map(_arithmetic, node.args) if n is not None]
        if names and re.fullmatch(r"[A-Z][A-Z0-9_]+", names[0]) and numbers:
            yield names[0], numbers


def _arithmetic(node: ast.expr) -> float | None:
    """A number literal, or + - * of them (``30 * 86_400``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp):
        left, right = _arithmetic(node.left), _arithmetic(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
    return None


@cache
def _environment_defaults() -> dict[str, float]:
    config = ast.parse((ROOT / "layers/shared/gdfailover/config.py").read_text(encoding="utf-8"))
    return {name: numbers[0] for name, numbers in _environment_reads(config)}


def _constant(value: ast.expr) -> float | None:
    """A numeric literal, or ``timedelta(...)`` of literals in seconds."""
    if isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", "")) == "timedelta":
        seconds = 0.0
        for keyword in value.keywords:
            amount = _number(ast.literal_eval(keyword.value)) if isinstance(keyword.value, ast.Constant) else None
            scale = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0, "days": 86400.0}.get(keyword.arg or "")
            if amount is None or scale is None:
                return None
            seconds += amount * scale
        return seconds
    try:
        return _number(ast.literal_eval(value))
    except ValueError:
        return None


@cache
def defaults(root: Path = ROOT) -> dict[str, float]:
    template = load_template(root / "template.yaml")
    found = dict(_environment_defaults())  # a variable's default when the environment leaves it unset
    for name, spec in (template.get("Parameters") or {}).items():
        number = _number(spec.get("Default"))
        if number is not None:
            found[name] = number
    return found


@cache
def model_numbers() -> set[float]:
    """Every number ``make rto`` prints at the template defaults (model, profiles, costs)."""
    from tools.rto import TimingModel, render

    model = TimingModel.from_template()
    return _numbers(render(model, None))


@cache
def _computed() -> tuple[tuple[str, str, str], ...]:
    """(path, pattern, value) of every ``make docs`` quote, computed once."""
    from tools.docsync import QUOTES

    return tuple((quote.path, quote.pattern, quote.compute()) for quote in QUOTES)


def _prices() -> set[float]:
    """The unit prices `make rto` multiplies (tools/rto.py's PRICE_* constants)."""
    return {v for name, values in named_sources().items() if name.startswith("PRICE_") for v in values}


def _generated_spans(path: str, text: str) -> list[tuple[int, int]]:
    """Where ``make docs`` writes a value, and only where the value is the one it computes."""
    return [
        match.span(1)
        for quoted_path, pattern, value in _computed()
        if quoted_path == path
        for match in re.finditer(pattern, text)
        if match.group(1) == value
    ]


def _quoted(sentence: str, figure: str) -> bool:
    if sentence.lstrip().startswith(">"):
        return True
    flat = " ".join(sentence.split())
    return any(figure in inner for pair in re.findall(r'"([^"]*)"|“([^”]*)”', flat) for inner in pair)


def why_traced(figure: Figure, raw: str | None = None) -> str | None:  # noqa: PLR0911 - a return per rule
    """The rule that traces ``figure`` (``raw``: its file's text, read from the repository if None), or None."""
    raw = (ROOT / figure.path).read_text(encoding="utf-8") if raw is None else raw
    offset = _offset_of(raw, figure)
    spans = _generated_spans(figure.path, raw)
    if offset is not None and any(start < offset + len(figure.text) and offset < end for start, end in spans):
        return "generated"
    if _quoted(figure.sentence, figure.text):
        return "quoted"
    values = figure_values(figure.text)
    sources = named_sources()
    by_default = re.search(
        re.escape(figure.text) + r"\)?,? by default|default(?: of| is|:)? " + re.escape(figure.text), figure.sentence
    )
    in_sentence = [name for name in _IDENTIFIER.findall(figure.sentence) if name in sources]
    nearby = [name for name in _IDENTIFIER.findall(figure.paragraph) if name in sources]
    if by_default:
        # "N s by default" is the Default of a parameter named in its sentence (or, failing that, its paragraph)
        if any(defaults().get(name) in values for name in in_sentence or nearby):
            return "named default"
    elif any(value in sources[name] for name in in_sentence for value in values):
        return "named"  # a parameter's default, bound or allowed value; a constant's or variable's value
    elif any(value in _settled(name) for name in nearby for value in values):
        return "named nearby"  # named elsewhere in the paragraph: only its default, or a constant's value
    if "make rto" in figure.sentence and all(v in model_numbers() | _prices() for v in _numbers(figure.text)):
        return "modelled"
    for (path, pattern), _source in ALLOWED.items():
        if path == figure.path and re.search(pattern, figure.sentence):
            return "allowed"
    return None


def _settled(name: str) -> set[float]:
    """The value a name stands for on its own: a parameter's Default, else a constant's or variable's values."""
    default = defaults().get(name)
    return {default} if default is not None else named_sources()[name]


def _offset_of(raw: str, figure: Figure) -> int | None:
    """The figure's offset in the file: the first occurrence of its text on its line."""
    lines = raw.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: figure.line - 1])
    index = raw.find(figure.text, start)
    return index if index >= 0 else None


def untraced_in(raw: str, relative: str) -> list[Figure]:
    return [figure for figure in figures_in(raw, relative) if why_traced(figure, raw) is None]


def untraced(root: Path = ROOT) -> list[Figure]:
    return [
        figure
        for path in doc_files(root)
        for figure in untraced_in(path.read_text(encoding="utf-8"), str(path.relative_to(root)))
    ]


# --- the backlog: figures written before the scan, not traced yet -----------------------------------

#: One line per figure still to trace: ``<file> | <figure> | <its sentence, whitespace collapsed>``.
#: The scan accepts these until the sentence changes; a new or edited sentence must be traced. Shrink
#: it (``python -m tools.docfigures --prune`` drops entries whose sentence is gone); never add to it.
PENDING = ROOT / "tools" / "docfigures-pending.txt"


def pending_key(figure: Figure) -> str:
    sentence = " ".join(figure.sentence.split())
    return f"{figure.path} | {figure.text} | {sentence}"


def pending(path: Path = PENDING) -> set[str]:
    if not path.exists():
        return set()
    return {line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")}


def unaccounted(root: Path = ROOT) -> list[Figure]:
    """Untraced figures not in the backlog: what the test fails on."""
    backlog = pending()
    return [figure for figure in untraced(root) if pending_key(figure) not in backlog]


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    found = untraced()
    if "--prune" in args:
        keys = {pending_key(figure) for figure in found}
        header = [line for line in PENDING.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        kept = sorted(pending() & keys)
        PENDING.write_text("\n".join([*header, *kept]) + "\n", encoding="utf-8")
        print(f"{PENDING.name}: {len(kept)} figure(s) still to trace")
        return 0
    backlog = pending()
    new = [figure for figure in found if pending_key(figure) not in backlog]
    for figure in new if "--all" not in args else found:
        print(figure.describe())
    print(f"{len(found)} untraced figure(s), {len(new)} of them not in {PENDING.name}")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
