"""Markdown for user-chosen names: an inline code span that shows any text as it is."""
import re


def code_span(text: str) -> str:
    """text as a CommonMark inline code span: fenced by one backtick more than its longest run of backticks,
    padded with a space each side where CommonMark would otherwise misread its ends (a backtick there, or a space
    at both: CommonMark strips one space each side)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    edges = text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ") and text.strip())
    pad = " " if edges else ""
    return f"{fence}{pad}{text}{pad}{fence}"
