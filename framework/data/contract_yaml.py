"""A contract as YAML text for people to review: one line per column, with comments where wanted.

`save_contract` writes through the YAML library, which cannot place comments; this writes the text
itself. Every scalar is written plain only when YAML reads it back as the same string (a letter or
`_`, then letters, digits and `_`, and no word YAML 1.1 reads as a bool or null); anything else is
double-quoted with escapes, so names with hyphens, spaces, quotes, `#`, or any Unicode read back
exactly (`load_contract` returns an equal Contract).

Example:
    >>> print(contract_to_yaml(contract, comments={"email": "pii: the name 'email' suggests an email address"}))
    name: users
    version: 1
    extra_columns: error
    columns:
      - {name: id, type: int64, nullable: false, role: id}
      - {name: email, type: string, nullable: true, role: pii}  # pii: the name 'email' suggests an email address
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

from framework.data.contract import Contract

__all__ = ["contract_to_yaml", "yaml_scalar"]

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}  # YAML 1.1 bools and null
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _printable(char: str) -> bool:
    """What YAML allows unescaped inside double quotes (less its line breaks NEL, LS and PS, and the BOM)."""
    code = ord(char)
    return (0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000) \
        and char not in "\u2028\u2029\ufeff"


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if _printable(char):
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def yaml_scalar(text: str) -> str:
    """`text` as a YAML scalar that reads back as the same string: plain when safe, else double-quoted."""
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return '"' + "".join(_escaped(c) for c in text) + '"'


def _one_line(comment: str) -> str:
    return "".join(c if _printable(c) else " " for c in comment)


def contract_to_yaml(contract: Contract, comments: Mapping[str, str] | None = None,
                     header: Sequence[str] = ()) -> str:
    """The contract as YAML: `header` lines as comments on top, then one flow mapping per column,
    followed by `# comments[name]` where given (aligned, so the comments read as a column)."""
    comments = comments or {}
    entries = [
        f"  - {{name: {yaml_scalar(c.name)}, type: {yaml_scalar(c.type)}, "
        f"nullable: {'true' if c.nullable else 'false'}, role: {c.role}}}"
        for c in contract.columns
    ]
    width = max((len(e) for e, c in zip(entries, contract.columns) if c.name in comments), default=0)
    lines = [f"# {_one_line(line)}".rstrip() for line in header]
    lines += [f"name: {yaml_scalar(contract.name)}", f"version: {contract.version}",
              f"extra_columns: {contract.extra_columns}", "columns:"]
    for entry, column in zip(entries, contract.columns):
        note = comments.get(column.name)
        lines.append(f"{entry.ljust(width)}  # {_one_line(note)}" if note else entry)
    return "\n".join(lines) + "\n"
