"""Writing user values into generated Python: identifiers, string literals, literals, wrapped calls.

Everything the user typed enters a script as a validated identifier or a `repr` string literal, so no
name, path or column can inject code.
"""

from __future__ import annotations

import keyword
import re

_SAFE_TEXT = re.compile(r"[^A-Za-z0-9 _.,:()+\-]")


def safe_identifier(name: str, fallback: str = "layer") -> str:
    """A valid, non-keyword Python identifier made from `name`."""
    s = re.sub(r"\W", "_", str(name), flags=re.ASCII)
    if not s or s[0].isdigit():
        s = f"{fallback}_{s}"
    if keyword.iskeyword(s) or s.startswith("__"):
        s = f"{fallback}_{s.strip('_')}"
    return s[:64]


def comment_text(text: str, limit: int = 80) -> str:
    """User text reduced to harmless characters, for docstrings and comments."""
    return _SAFE_TEXT.sub("", str(text)).strip()[:limit]


def string_literal(text: str) -> str:
    """A Python string literal of `text` by Python's own quoting (`repr`), so that every character
    survives, those outside the Basic Multilingual Plane and lone surrogates included; in double
    quotes unless that needs more escapes, as the formatter writes it."""
    text = str(text)
    r = repr(text)
    if r[0] == '"' or text.count('"') > text.count("'"):
        return r
    out, body, i = ['"'], r[1:-1], 0
    while i < len(body):
        pair = body[i : i + 2] if body[i] == "\\" else body[i]
        out.append("'" if pair == "\\'" else '\\"' if pair == '"' else pair)
        i += len(pair)
    return "".join(out) + '"'


def literal(value) -> str:
    """A Python literal for a JSON-like value; tuples of one repeated integer collapse to that integer."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value) and isinstance(value[0], int):
        return repr(value[0])
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    if isinstance(value, (list, tuple)):
        return repr(tuple(value) if isinstance(value, tuple) else list(value))
    raise TypeError(f"cannot write {type(value).__name__} into a script")


def wrap_call(prefix: str, call: str, indent: int) -> list[str]:
    """One assignment line, or the call's arguments one per line when it is too long."""
    line = " " * indent + prefix + call
    if len(line) <= 110:
        return [line]
    head, _, rest = call.partition("(")
    args, depth, cur = [], 0, ""
    for ch in rest[:-1]:
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        depth += ch in "([{"
        depth -= ch in ")]}"
        cur += ch
    if cur.strip():
        args.append(cur.strip())
    pad = " " * (indent + 4)
    return [" " * indent + prefix + head + "(", *[f"{pad}{a}," for a in args], " " * indent + ")"]


def indent(lines, n):
    pad = " " * n
    return [pad + ln if ln else "" for ln in lines]
