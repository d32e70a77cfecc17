"""Check that splitting a module into a package moved code without changing it.

    python scripts/check_pure_move.py REV:path/to/module.py path/to/package

Every top-level function, class and assignment of the old module (``REV:path`` is read with
``git show``; a plain path is read from disk) must appear in exactly one module of the package,
AST-identical (and the report says how many are byte-identical too); the package may define
nothing else at top level except in ``__init__.py``, which only re-exports. The old module's
``__all__`` must be a subset of the package's. Exit status 1 on any difference.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def read(source: str) -> str:
    if ":" in source and not Path(source).exists():
        return subprocess.run(
            ["git", "show", source], check=True, capture_output=True, text=True
        ).stdout
    return Path(source).read_text()


def definitions(text: str) -> dict[str, tuple[ast.stmt, str]]:
    """Top-level name -> (node, source) for defs, classes and assignments."""
    found: dict[str, tuple[ast.stmt, str]] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        else:
            continue
        for name in names:
            if name in found:
                raise SystemExit(f"{name} is defined twice")
            found[name] = (node, ast.get_source_segment(text, node) or "")
    return found


def main(old_source: str, package: str) -> int:
    old = definitions(read(old_source))
    old_all = set(ast.literal_eval(old.pop("__all__")[0].value)) if "__all__" in old else set()
    modules = {
        path.stem: definitions(path.read_text())
        for path in sorted(Path(package).glob("*.py"))
        if path.name != "__init__.py"
    }
    init = definitions((Path(package) / "__init__.py").read_text())
    new_all = set(ast.literal_eval(init.pop("__all__")[0].value)) if "__all__" in init else set()
    problems = []
    if init:
        problems.append(f"__init__.py defines {sorted(init)}; it should only re-export")
    unchanged = byte_identical = 0
    for name, (node, source) in old.items():
        homes = [module for module, defs in modules.items() if name in defs]
        if len(homes) != 1:
            problems.append(f"{name}: found in {homes or 'no module'}, expected exactly one")
            continue
        new_node, new_source = modules[homes[0]][name]
        if ast.dump(new_node) != ast.dump(node):
            problems.append(f"{name}: the AST differs in {homes[0]}.py")
        else:
            unchanged += 1
            byte_identical += new_source == source
    for module, defs in modules.items():
        for name in sorted(set(defs) - set(old)):
            problems.append(f"{module}.py: {name} is new (not in the old module)")
    if not old_all <= new_all:
        problems.append(f"names dropped from __all__: {sorted(old_all - new_all)}")
    for problem in problems:
        print(problem)
    print(
        f"{len(old)} top-level definitions; {unchanged} moved unchanged "
        f"({byte_identical} byte-identical) into {len(modules)} modules; {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
