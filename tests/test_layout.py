"""The house rules of README's Layout table, read from the code itself: imports run one way, every package says
what lives in it, few loose modules, small files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "studio"

# Higher ranks may import lower ranks (and their own package); never the other way. The order is README's table.
RANKS = {
    "studio.__main__": 72, "studio.cli": 71, "studio.ui": 70,  # `studio ui` serves the page
    "studio.text": 60, "studio.music.leadsheet": 60, "studio.music.remi": 60, "studio.music.pianoroll": 60,
    "studio.music.jazz": 60, "studio.music.trade": 60, "studio.memory": 60, "studio.sketch": 60,
    "studio.music.band": 52, "studio.music.io": 51, "studio.music.theory": 50,
    "studio.training": 42, "studio.loading": 41, "studio.sampling": 40,
    "studio.models": 30, "studio.tokenizers": 30, "studio.checkpoint": 30,
    "studio.config": 20, "studio.errors": 10,
}
NAMESPACES = ("studio", "studio.music")  # packages that only hold packages
FAMILIES = {name for name, rank in RANKS.items() if rank == 60}
# A family may build on another only where README says so: call and response is the jazz soloist's tokens, split
# and changes, answered by an encoder-decoder.
BUILDS_ON = {("studio.music.trade", "studio.music.jazz")}
MAX_LOOSE_MODULES = 6
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _home(module: str) -> str | None:
    """The RANKS entry a module belongs to (its longest matching prefix)."""
    matches = [name for name in RANKS if module == name or module.startswith(name + ".")]
    return max(matches, key=len) if matches else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every studio module a file imports, at module level or inside functions: (line, module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("studio.")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("studio"):
            if node.module == "studio":  # `from studio import __version__` or a subpackage by name
                found += [(node.lineno, f"studio.{alias.name}") for alias in node.names
                          if _home(f"studio.{alias.name}")]
            else:
                found.append((node.lineno, node.module))
    return found


SOURCES = sorted(ROOT.rglob("*.py"))


def test_every_module_has_a_place_in_the_table() -> None:
    homeless = [name for p in SOURCES if (name := _module_name(p)) not in NAMESPACES and _home(name) is None]
    assert homeless == [], f"add these to README's Layout table and to RANKS: {homeless}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_imports_run_down_the_table(path: Path) -> None:
    here = _home(_module_name(path))
    if here is None:
        return
    wrong = []
    for line, module in _imports(path):
        there = _home(module)
        if there is None or there == here or (here, there) in BUILDS_ON:
            continue
        if RANKS[there] >= RANKS[here]:
            wrong.append(f"line {line}: {module} ({there}, rank {RANKS[there]}) from {here} (rank {RANKS[here]})")
        elif here in FAMILIES and there in FAMILIES:
            wrong.append(f"line {line}: family {here} imports family {there}")
    assert wrong == []


def test_no_circles_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for path in SOURCES:
        here = _home(_module_name(path))
        for _, module in _imports(path):
            there = _home(module)
            if here and there and there != here:
                edges.setdefault(here, set()).add(there)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges.get(start, ()))

    assert [name for name in edges if reaches(name, name, set())] == []


def test_each_package_says_what_lives_there() -> None:
    for init in ROOT.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and doc.splitlines()[0].strip(), f"{init}: open with a line that says what lives in the package"


def test_few_loose_modules_and_small_files() -> None:
    loose = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose
    long = {str(p.relative_to(ROOT.parent)): n for p in SOURCES
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}, f"split these files (over {MAX_LINES} lines): {long}"
