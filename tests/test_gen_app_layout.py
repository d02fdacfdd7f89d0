"""The layering of gen_app: a tab's folder imports the shared modules and itself, never another tab's folder (what two
tabs share, such as the GPT and its sampler, lives in gen_app/ itself)."""

import ast
from pathlib import Path

GEN_APP = Path(__file__).resolve().parent.parent / "gen_app"
TABS = sorted(p.name for p in GEN_APP.iterdir() if (p / "tab.py").is_file())
# The one link from the shared layer into a tab's folder: the GPT's tokenizers still sit in gen_app/text/.
SHARED_TO_TAB = {"gen_app.text.tokenizer"}


def gen_app_imports(path: Path) -> set[str]:
    """The gen_app modules a file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {name for name in names if name.startswith("gen_app.")}


def tab_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in TABS else None


def test_no_tab_imports_another_tab():
    assert {"audio", "faces", "sr", "style", "text"} <= set(TABS)
    offenders = [
        f"{path.relative_to(GEN_APP)} imports {module}"
        for tab in TABS
        for path in sorted((GEN_APP / tab).rglob("*.py"))
        for module in gen_app_imports(path)
        if tab_of(module) not in (None, tab)
    ]
    assert not offenders, offenders


def test_shared_modules_import_no_tab():
    offenders = [
        f"{path.name} imports {module}"
        for path in sorted(GEN_APP.glob("*.py"))
        if path.name not in ("app.py", "cli.py")  # the app and the command line assemble the tabs
        for module in gen_app_imports(path)
        if tab_of(module) is not None and module not in SHARED_TO_TAB
    ]
    assert not offenders, offenders
