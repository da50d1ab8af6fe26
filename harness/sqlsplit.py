"""Split a SQL script into statements, remembering the line each one starts on.

The runner sends statements one by one so that an error can name the file and
line it came from. The splitting is PostgreSQL's own, through pglast (libpg_query,
the server's parser compiled as a library, pinned to the PostgreSQL 15 grammar):

* normally the parser splits the script, so nothing that can hide a semicolon
  (quoted strings, ``E''`` escapes, dollar-quoted bodies, nested comments,
  ``begin atomic`` bodies) is ever cut;
* a script with a syntax error cannot be parsed whole, so it is split on the
  semicolon tokens of PostgreSQL's scanner instead: the statements before the
  bad one run (inside the file's transaction) and the server reports the error
  with its own position, which gives the exact line. pglast's own error offset
  is not used: with multi-byte characters before the error it points to the
  wrong place.

tests/foundation/test_sqlsplit.py checks every file in db/: each statement
parses alone as exactly one statement, and together they hold every token of
the file, so no statement is cut, merged or lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast import parser

_COMMENTS = ("SQL_COMMENT", "C_COMMENT")


@dataclass(frozen=True)
class Statement:
    text: str
    line: int  # 1-based line of the statement's first character in the file


def split(script: str) -> list[Statement]:
    try:
        slices = parser.split(script, with_parser=True, only_slices=True)
    except parser.ParseError:
        slices = _scanner_slices(script)
    statements = []
    for piece in slices:
        text = script[piece].strip().rstrip(";").rstrip()
        if not text:
            continue
        start = piece.start + (len(script[piece]) - len(script[piece].lstrip()))
        statements.append(Statement(text=text, line=script.count("\n", 0, start) + 1))
    return statements


def _scanner_slices(script: str) -> list[slice]:
    """Statements between top-level semicolons, by the server's scanner (offsets are characters)."""
    slices: list[slice] = []
    start: int | None = None
    for token in parser.scan(script):
        if token.name == "ASCII_59":
            if start is not None:
                slices.append(slice(start, token.start))
            start = None
        elif token.name not in _COMMENTS and start is None:
            start = token.start
    if start is not None:
        slices.append(slice(start, len(script)))
    return slices
