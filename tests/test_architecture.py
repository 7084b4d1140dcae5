"""The package layout is the architecture: rooms import only rooms below them, heavy libraries stay behind their doors."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "synthgen"

# Each room of synthgen and its height in the data flow; a room imports only rooms strictly below it.
LAYERS = {
    "errors": 0,
    "versions": 0,
    "denormals": 0,
    "progress": 0,
    "params": 1,
    "config": 2,
    "features": 3,
    "audio_io": 3,
    "plots": 3,
    "synths": 4,
    "dataset": 5,
    "presets": 6,
    "nn": 7,
    "model": 8,
    "train": 9,
    "uses": 10,
    "serve": 11,
    "cli": 12,
    "__init__": 13,
    "__main__": 13,
}
# Libraries only some rooms may import; torch may also be imported inside a function (the model's torch backend).
DOORS = {"dawdreamer": {"synths"}, "torch": {"nn", "train"}, "onnxruntime": {"model"}, "matplotlib": {"plots"}, "ray": {"dataset"}}
LAZY_ALLOWED = {"torch"}


def _room(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path, top_level_only: bool) -> list[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_room_has_a_layer() -> None:
    assert {_room(p) for p in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    room = _room(path)
    for name in _imports(path, top_level_only=False):
        parts = name.split(".")
        if parts[0] == "synthgen" and len(parts) > 1 and parts[1] != room:
            assert LAYERS[parts[1]] < LAYERS[room], f"{room} imports {name}, a room above it"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_heavy_libraries_stay_behind_their_doors(path: Path) -> None:
    room = _room(path)
    top_level = set(_imports(path, top_level_only=True))
    for name in _imports(path, top_level_only=False):
        library = name.split(".")[0]
        if library in DOORS and room not in DOORS[library]:
            assert library in LAZY_ALLOWED and name not in top_level, f"{path.name} imports {name}"


def test_public_names_resolve_without_heavy_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys, synthgen\n"
        "assert 'torch' not in sys.modules and 'dawdreamer' not in sys.modules\n"
        "missing = [n for n in synthgen.__all__ if getattr(synthgen, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert {'load_model', 'resynthesize', 'render_dataset'} <= set(synthgen.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
