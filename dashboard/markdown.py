"""Markdown for user-chosen names: an inline code span that shows any text as it is."""
import re


def code_span(text: str) -> str:
    """text as a CommonMark inline code span: fenced by one backtick more than its longest run of backticks,
    padded with a space each side when it starts or ends with one (CommonMark strips one space each side)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
