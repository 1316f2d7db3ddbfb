"""Only the app imports Qt, and dependencies point down: app -> lab/interop -> data -> engine;
autograd stands alone (docs/ARCHITECTURE.md). `lint-imports` checks the same contracts in
CI; this test keeps them in the test suite too."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnnlab"
QT = ("PyQt6", "pyqtgraph", "PySide6")
FRAMEWORKS = ("torch", "tensorflow", "sklearn")
FORBIDDEN = {
    "engine": (*QT, *FRAMEWORKS, "cnnlab.app", "cnnlab.lab", "cnnlab.interop", "cnnlab.data",
               "cnnlab.autograd"),
    "data": (*QT, *FRAMEWORKS, "cnnlab.app", "cnnlab.lab", "cnnlab.interop", "cnnlab.autograd"),
    "lab": (*QT, *FRAMEWORKS, "cnnlab.app"),
    "interop": (*QT, "cnnlab.app", "cnnlab.lab"),
    "autograd": (*QT, "numpy", "cnnlab.engine", "cnnlab.data", "cnnlab.lab", "cnnlab.interop",
                 "cnnlab.app"),
}


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the file's package
                pkg = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-node.level]
                yield ".".join(pkg + ((node.module,) if node.module else ()))
            elif node.module:
                yield node.module


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_import_forbidden_modules(layer):
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no sources found under cnnlab/{layer}"
    offenders = [
        f"{f.relative_to(PACKAGE.parent)} imports {name}"
        for f in files
        for name in _imports(f)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer])
    ]
    assert not offenders, "\n".join(offenders)


def test_checker_sees_a_forbidden_import(tmp_path):
    """The check above must be able to fail."""
    bad = tmp_path / "bad.py"
    bad.write_text("from PyQt6 import QtCore\nimport pyqtgraph as pg\n")
    assert set(_imports(bad)) == {"PyQt6", "pyqtgraph"}
