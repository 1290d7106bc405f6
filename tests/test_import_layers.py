"""The package's imports go one way, down the pipeline, with no circle (imports inside functions
count too): core -> models -> data -> evaluation -> inference -> training -> export -> convert -> commands.

Run alone with `python -m pytest tests/test_import_layers.py -q`; it reads the source and imports
only `sr_tf` itself (no TensorFlow).
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "sr_tf"
LAYERS = ["core", "models", "data", "evaluation", "inference", "training", "export", "convert", "commands"]
# The shims `python -m sr_tf.<command>` runs: entry points of the command layer, imported by nothing.
ENTRY_SHIMS = {f"sr_tf.{name}" for name in ("train", "evaluate", "upscale", "figure")}


def modules():
    """{dotted module name: path} of every module of sr_tf."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(path, name, known):
    """The sr_tf modules `path` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names if alias.name.startswith("sr_tf")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            if not base.startswith("sr_tf"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in known else base)
    return {t for t in targets if t != name and t in known}


def layer(name):
    parts = name.split(".")
    if len(parts) == 1:
        return "core"  # sr_tf/__init__.py
    if name in ENTRY_SHIMS or parts[-1] == "__main__":
        return "commands"
    return parts[1] if parts[1] in LAYERS else "unplaced"


def import_graph():
    known = modules()
    return {name: imported(path, name, known) for name, path in known.items()}


def test_every_module_has_a_layer():
    for name in modules():
        assert layer(name) in LAYERS, name


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{name} ({layer(name)}) imports {target} ({layer(target)})"
        for name, targets in import_graph().items()
        for target in sorted(targets)
        if LAYERS.index(layer(target)) > LAYERS.index(layer(name))
    ]
    assert not upward, "\n".join(upward)


def test_there_is_no_import_circle():
    graph = import_graph()
    # A package's __init__ re-exporting its own submodules is not a circle for this purpose.
    edges = {
        name: {t for t in targets if not (name.startswith(t + ".") and t in graph)}
        for name, targets in graph.items()
    }
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_no_library_module_imports_the_command_layer():
    library = [(name, targets) for name, targets in import_graph().items() if layer(name) != "commands"]
    offending = [
        f"{name} imports {target}"
        for name, targets in library
        for target in sorted(targets)
        if layer(target) == "commands"
    ]
    assert not offending, "\n".join(offending)


def test_inference_imports_nothing_from_training():
    """Opening a network is a models service (models.opening): inference needs no training code."""
    offending = [
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        if layer(name) == "inference"
        for target in sorted(targets)
        if layer(target) == "training"
    ]
    assert not offending, "\n".join(offending)


def test_importing_sr_tf_does_nothing_beyond_importing():
    """No environment change, no argv sniffing: the console filter belongs to the command entry points.
    sr_tf/__init__.py holds its docstring and constants, nothing else."""
    body = ast.parse((PACKAGE / "__init__.py").read_text()).body
    assert all(
        isinstance(node, (ast.Expr, ast.Assign)) and isinstance(node.value, ast.Constant) for node in body
    )
