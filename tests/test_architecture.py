"""The layers of DESIGN.md §2: imports only point downward."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported_roots(path: Path) -> set[str]:
    """Top-level package names a module imports (import x.y / from x.y import z)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _files(folder: str) -> list[Path]:
    files = sorted((ROOT / folder).glob("*.py"))
    assert files, f"no Python files found in {folder}/"
    return files


@pytest.mark.parametrize("path", _files("cnn_core"), ids=lambda p: p.name)
def test_core_never_imports_ui_libraries(path):
    """Nothing in cnn_core imports streamlit, plotly or the ui package."""
    assert not _imported_roots(path) & {"streamlit", "plotly", "ui", "streamlit_drawable_canvas"}


@pytest.mark.parametrize("name", ["figures.py", "charts.py"])
def test_figures_import_neither_streamlit_nor_torch(name):
    """ui/figures.py and ui/charts.py build Plotly figures from plain arrays: no streamlit, no
    torch."""
    path = ROOT / "ui" / name
    if not path.exists():
        pytest.fail(f"ui/{name} is missing")
    assert not _imported_roots(path) & {"streamlit", "torch", "cnn_core"}


def test_pages_do_not_import_torch():
    """Pages compose widgets and figures; tensor maths stays in cnn_core."""
    for path in [*_files("app_pages"), ROOT / "app.py"]:
        assert "torch" not in _imported_roots(path), path.name


def test_only_canvas_module_imports_the_canvas_component():
    """streamlit_drawable_canvas is imported in ui/canvas.py and nowhere else."""
    for folder in ("cnn_core", "ui", "app_pages"):
        for path in _files(folder):
            if path.name != "canvas.py" or folder != "ui":
                assert "streamlit_drawable_canvas" not in _imported_roots(path), path


def test_no_unsafe_torch_load():
    """Every torch.load call passes weights_only=True (checkpoints use safetensors anyway)."""
    for path in ROOT.glob("**/*.py"):
        if ".git" in path.parts or "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("torch.load"):
                kwargs = {k.arg: ast.unparse(k.value) for k in node.keywords}
                assert kwargs.get("weights_only") == "True", f"{path}:{node.lineno}"
