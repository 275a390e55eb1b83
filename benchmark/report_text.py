"""Plain-text layout for fixed widths: wrapping ids and sentences, summarising what does not fit, and
Markdown tables that keep every line under a limit (code hosts show long lines as a scroll bar)."""

from __future__ import annotations

import textwrap

ELLIPSIS = "…"


def wrap_id(text: str, width: int) -> list[str]:
    """A target id over lines of at most ``width``, broken after a '/' where it can be."""
    lines: list[str] = []
    line = ""
    for i, part in enumerate(text.split("/")):
        piece = part if i == 0 else "/" + part
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = piece
        else:
            line += piece
        while len(line) > width:  # one segment longer than the column
            lines.append(line[:width])
            line = line[width:]
    if line:
        lines.append(line)
    return lines or [""]


def wrap_text(text: str, width: int, max_lines: int | None = None) -> list[str]:
    """Words over lines of at most ``width``; past ``max_lines`` the last line ends in an ellipsis."""
    lines = textwrap.wrap(" ".join(text.split()), width, break_long_words=True, break_on_hyphens=False) or [""]
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1].rstrip() + ELLIPSIS
    return lines


def summarise(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:") + ELLIPSIS


def md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def width(line: str) -> int:
    """A line's length in UTF-8 bytes: never less than its characters or its width on screen (✅ is one
    character, two columns, three bytes), so a line within the limit by this count is within it by any."""
    return len(line.encode())


def md_table(headers: list[str], rows: list[list[str]], limit: int = 200, shrink: list[int] | None = None) -> list[str]:
    """A GitHub table whose lines are at most ``limit`` characters: the columns in ``shrink`` (by default the
    widest) are summarised until every row fits."""
    cells = [[md_escape(c) for c in row] for row in rows]
    heads = [md_escape(h) for h in headers]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(values) + " |"

    for row in cells:
        while width(line(row)) > limit:
            candidates = shrink if shrink is not None else range(len(row))
            widest = max(candidates, key=lambda i: len(row[i]))
            excess = width(line(row)) - limit
            if len(row[widest]) <= 8:
                break  # nothing left worth cutting; the limit is the caller's to choose sensibly
            row[widest] = summarise(row[widest], max(8, len(row[widest]) - excess))
    return [line(heads), line(["---"] * len(heads))] + [line(row) for row in cells]


def md_paragraph(text: str, width: int = 120, indent: str = "", limit: int = 200) -> list[str]:
    """A Markdown paragraph wrapped to ``width`` (soft line breaks render as spaces); a single word longer
    than ``limit`` (a long path) is the only thing ever split."""
    lines = textwrap.wrap(" ".join(text.split()), width, initial_indent=indent,
                          subsequent_indent=" " * len(indent), break_long_words=False, break_on_hyphens=False)
    out: list[str] = []
    for line in lines or [""]:
        while len(line) > limit:
            out.append(line[:limit])
            line = " " * len(indent) + line[limit:]
        out.append(line)
    return out
