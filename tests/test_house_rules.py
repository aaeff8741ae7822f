"""House rules of the test suite that a linter does not check."""

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent
_IMPORT_IN_TEXT = re.compile(r"\b(?:from|import)\s+(test_\w+)")


def _imported_test_modules(path: Path) -> set[str]:
    """Names of test modules ``path`` imports: import statements, and import lines inside
    string constants (scripts run in a subprocess)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(_IMPORT_IN_TEXT.findall(node.value))
    return {name for name in found if name.split(".")[0].startswith("test_")}


def test_no_test_module_imports_another():
    """Shared helpers live in tests/_helpers.py or tests/conftest.py: importing a test
    module runs it twice (once as a library) and couples the two files."""
    modules = sorted(TESTS.glob("test_*.py"))
    assert len(modules) > 50  # the glob sees the suite
    offenders = {path.name: sorted(names) for path in modules
                 if (names := _imported_test_modules(path))}
    assert offenders == {}


def test_the_check_sees_both_kinds_of_import(tmp_path):
    source = ('from TEST_a import x\nimport TEST_b.c\nimport numpy\n'
              'SCRIPT = "import sys\\nfrom TEST_d import y\\n"\n')
    # written with a placeholder so that this file does not import them in text itself
    (tmp_path / "test_z.py").write_text(source.replace("TEST_", "test_"))
    assert _imported_test_modules(tmp_path / "test_z.py") == {"test_a", "test_b.c", "test_d"}
