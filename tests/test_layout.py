"""The design's boundaries: core/ is a plain library that never imports streamlit."""
import re

from tests.conftest import ROOT


def test_core_never_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+streamlit\b", p.read_text(), re.M)]
    assert offenders == []
