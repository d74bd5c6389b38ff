"""The package tree is the pipeline diagram, and stays so: one package per stage, imports only
run downward (no cycles), and another stage is entered only through its face (the names its
``__init__`` lists in ``_FACE``). Reads the source with :mod:`ast`; imports nothing of it."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "linkkeeper"
# Bottom to top: a module may import its own stage and the stages before it, nothing after.
STAGES = (
    "core",
    "curriculum",
    "ledger",
    "web",
    "judges",
    "check",
    "archive",
    "outputs",
)
TOP = (
    "nightly",
    "demo",
    "cli",
    "__main__",
)  # the applications, each on the ones before it
APART = "sandbox"  # the loopback internet: imports nothing of linkkeeper; only demo uses it
SHARED = ("", "_face")  # the root package (``__version__``) and the faces' lazy loader
RANK = {unit: rank for rank, unit in enumerate(STAGES + TOP)}

Import = tuple[int, str, tuple[str, ...]]  # line, module, names (empty for ``import x``)


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """``linkkeeper.check.engine`` -> ``check``; ``linkkeeper.cli.members`` -> ``cli``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(module: str, source: str, is_package: bool) -> Iterator[Import]:
    """Every import of linkkeeper's, wherever it sits (top, function, ``TYPE_CHECKING``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "linkkeeper":
                    yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + is_package]
                target = ".".join([*base, target] if target else base)
            if target.split(".")[0] == "linkkeeper":
                yield node.lineno, target, tuple(alias.name for alias in node.names)


def face_of(source: str) -> dict[str, str]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_FACE" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    return {}


def read_package(package: Path = PACKAGE) -> dict[str, tuple[str, bool]]:
    return {
        module_name(path, package): (
            path.read_text(encoding="utf-8"),
            path.name == "__init__.py",
        )
        for path in sorted(package.rglob("*.py"))
    }


def layout_problems(sources: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Each import that runs upward, crosses into a sandbox, or reaches past a stage's face."""
    faces = {stage: face_of(sources.get(f"linkkeeper.{stage}", ("", True))[0]) for stage in STAGES}
    problems = []
    for module, (source, is_package) in sources.items():
        mine = unit_of(module)
        for line, target, names in imports_of(module, source, is_package):
            theirs = unit_of(target)
            where = f"{module} (line {line}) imports {target}"
            if theirs in SHARED or theirs == mine:
                continue
            if APART in (mine, theirs):
                if not (theirs == APART and mine == "demo"):
                    problems.append(f"{where}: the sandbox stands apart (only demo uses it)")
                continue
            if theirs not in RANK or mine not in RANK:
                problems.append(f"{where}: {theirs or mine!r} is no stage of the pipeline")
                continue
            if RANK[theirs] > RANK[mine]:
                problems.append(f"{where}: upward, {mine} sits below {theirs}")
            if theirs in STAGES and (target != f"linkkeeper.{theirs}" or not names):
                problems.append(f"{where}: past the face of {theirs} (use linkkeeper.{theirs})")
            elif theirs in STAGES:
                for name in names:
                    if name not in faces[theirs]:
                        problems.append(f"{where}: {name} is not in the face of {theirs}")
    return problems


def import_graph(sources: Mapping[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """module -> the modules it imports (a face's name resolved to the module holding it)."""
    faces = {m: face_of(src) for m, (src, is_package) in sources.items() if is_package}
    graph: dict[str, set[str]] = {module: set() for module in sources}
    for module, (source, is_package) in sources.items():
        for _line, target, names in imports_of(module, source, is_package):
            for name in names or ("",):
                if name and name in faces.get(target, {}):
                    resolved = f"{target}.{faces[target][name]}"
                elif name and f"{target}.{name}" in sources:
                    resolved = f"{target}.{name}"  # a submodule
                else:
                    resolved = target
                while resolved not in sources and "." in resolved:
                    resolved = resolved.rsplit(".", 1)[0]  # a name of a sub-package's module
                if resolved != module and resolved in sources:
                    graph[module].add(resolved)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


# -- the package as it is ----------------------------------------------------------------------
def test_every_module_sits_in_a_stage() -> None:
    """A new module goes into the stage it belongs to, not beside them."""
    lost = [m for m in read_package() if unit_of(m) not in (*RANK, APART, *SHARED)]
    assert not lost, f"modules outside every stage: {lost}; see README 'Architecture'"


def test_imports_run_downward_through_the_faces() -> None:
    problems = layout_problems(read_package())
    assert not problems, "\n".join(problems)


def test_no_import_cycles() -> None:
    found = cycles(import_graph(read_package()))
    assert not found, f"import cycles: {found}"


def test_each_face_names_what_its_modules_define() -> None:
    sources = read_package()
    for stage in STAGES:
        face = face_of(sources[f"linkkeeper.{stage}"][0])
        assert face, f"linkkeeper/{stage}/__init__.py has no _FACE"
        for name, where in face.items():
            module = f"linkkeeper.{stage}.{where}"
            assert module in sources, f"{stage} face: {name} -> {where}: no such module"
            if where == name or f"{module}.{name}" in sources:
                continue
            tree = ast.parse(sources[module][0])
            defined = {
                target.id
                for node in tree.body
                if isinstance(node, (ast.Assign, ast.AnnAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                for target in ast.walk(target)
                if isinstance(target, ast.Name)
            }
            defined |= {
                node.name
                for node in tree.body
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            }
            defined |= {
                alias.asname or alias.name
                for node in tree.body
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names
            }
            assert name in defined, f"{stage} face: {module} has no {name}"


# -- the checks themselves catch what they are for -----------------------------------------------
def fake(**modules: str) -> dict[str, tuple[str, bool]]:
    faces = {
        "linkkeeper.core": ("_FACE = {'Reading': 'models'}", True),
        "linkkeeper.check": ("_FACE = {'main': 'engine'}", True),
    }
    return {
        **faces,
        **{name.replace("_", "."): (src, False) for name, src in modules.items()},
    }


def test_an_upward_import_is_caught() -> None:
    sources = fake(linkkeeper_core_models="def f():\n    from linkkeeper.check import main\n")
    assert any("upward, core sits below check" in p for p in layout_problems(sources))


def test_a_reach_past_the_face_is_caught() -> None:
    sources = fake(linkkeeper_check_engine="from linkkeeper.core.models import Reading\n")
    assert any("past the face of core" in p for p in layout_problems(sources))
    sources = fake(linkkeeper_check_engine="from linkkeeper.core import Secret\n")
    assert any("Secret is not in the face of core" in p for p in layout_problems(sources))


def test_a_cycle_is_caught() -> None:
    sources = fake(
        linkkeeper_check_engine="from linkkeeper.check.report import x\n",
        linkkeeper_check_report="def f():\n    from linkkeeper.check.engine import y\n",
    )
    assert cycles(import_graph(sources)) == [["linkkeeper.check.engine", "linkkeeper.check.report"]]
