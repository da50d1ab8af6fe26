"""Split a SQL script into statements, remembering the line each one starts on.

The runner sends statements one by one so that an error can name the file and
line it came from. The splitter understands what can hide a semicolon: quoted
strings and identifiers, dollar-quoted bodies, and both kinds of comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of the statement's first character in the file


def split(script: str) -> list[Statement]:
    statements: list[Statement] = []
    start = 0
    i = 0
    n = len(script)
    block_depth = 0
    while i < n:
        ch = script[i]
        nxt = script[i + 1] if i + 1 < n else ""
        if block_depth:
            if ch == "/" and nxt == "*":
                block_depth += 1
                i += 2
            elif ch == "*" and nxt == "/":
                block_depth -= 1
                i += 2
            else:
                i += 1
            continue
        if ch == "-" and nxt == "-":
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and nxt == "*":
            block_depth = 1
            i += 2
        elif ch in ("'", '"'):
            i = _skip_quoted(script, i, ch)
        elif ch == "$" and (match := _DOLLAR_TAG.match(script, i)) and not _inside_word(script, i):
            tag = match.group(0)
            end = script.find(tag, match.end())
            i = n if end < 0 else end + len(tag)
        elif ch == ";":
            _append(statements, script, start, i + 1)
            start = i + 1
            i += 1
        else:
            i += 1
    _append(statements, script, start, n)
    return statements


def _inside_word(script: str, i: int) -> bool:
    # `$1` parameters and identifiers such as a$b are not dollar quotes.
    return i > 0 and (script[i - 1].isalnum() or script[i - 1] == "_")


def _skip_quoted(script: str, i: int, quote: str) -> int:
    i += 1
    while i < len(script):
        if script[i] == quote:
            if i + 1 < len(script) and script[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _append(statements: list[Statement], script: str, start: int, end: int) -> None:
    chunk = script[start:end]
    if not _has_code(chunk):
        return
    # Report the line of the first real token, not of the blank lines before it.
    lead = len(chunk) - len(chunk.lstrip())
    line = script.count("\n", 0, start + lead) + 1
    statements.append(Statement(text=chunk.strip(), line=line))


def _has_code(chunk: str) -> bool:
    stripped = re.sub(r"--[^\n]*", "", chunk)
    stripped = re.sub(r"/\*.*?\*/", "", stripped, flags=re.S)
    return bool(stripped.strip(" \t\r\n;"))
