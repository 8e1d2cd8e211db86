"""The project's own import graph, read from the source with ast (nothing is imported): no module of drm_core or
drm_ros imports itself back through others (top-level and function-level imports both count; imports under
`if TYPE_CHECKING:` do not run and do not count), and drm_core stays free of ROS."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import ROOT

PACKAGES = ("drm_core", "drm_ros")
# Top-level names that mean ROS: its client library, its message packages and drm_ros itself.
ROS_NAMES = {"rclpy", "rosidl_runtime_py", "builtin_interfaces", "message_filters", "cv_bridge", "tf2_ros",
             "ament_index_python", "drm_ros"}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages (a package is its __init__.py)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Every dotted name the module imports (for `from a import b`: both a.b and a), anywhere in its code
    except under `if TYPE_CHECKING:`."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _graph() -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """Edges between the project's modules, and every imported name by module."""
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    imported: dict[str, list[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        names = _imported_names(tree, module, path.name == "__init__.py")
        imported[module] = names
        for name in names:
            # `from a import b`: b is a module of its own when a file says so, else a name inside a
            if name in modules and name != module:
                edges[module].add(name)
    return edges, imported


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) for each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges[node]):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return [_path_through(group, edges) for group in groups]


def _path_through(group: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, staying inside the group."""
    start, members = group[0], set(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(edges[node] & members):
                if succ == start:  # walk back from node to start, then read it forwards
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1] + [start]
                if succ not in previous:
                    previous[succ] = node
                    following.append(succ)
        frontier = following
    return group


def test_the_graph_sees_known_imports():
    """The reader finds top-level and function-level imports (so an empty graph cannot pass by accident)."""
    edges, _ = _graph()
    assert "drm_core.camera" in edges["drm_core.predictor"]  # top level
    assert "drm_core.checkpoint" in edges["drm_core.onnx_cache"]  # inside main()


def test_no_import_cycles():
    edges, _ = _graph()
    cycles = _cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_cycle_finder_reports_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c", "a"]]


def test_drm_core_imports_nothing_of_ros():
    _, imported = _graph()
    offenders = sorted(f"{module}: {name}" for module, names in imported.items() if module.startswith("drm_core")
                       for name in names
                       if name.split(".")[0] in ROS_NAMES or name.split(".")[0].endswith(("_msgs", "_interfaces")))
    assert not offenders, "drm_core must run without ROS:\n" + "\n".join(offenders)
