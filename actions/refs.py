"""Ref-name rules, checked in Python before any name from outside reaches git.

Mirrors ``git check-ref-format`` and adds one rule of our own: nothing may start with ``-``, so
a name can never be read as an option even where ``--end-of-options`` is not available.
"""

from __future__ import annotations

import re

from actions.errors import RefNameError

_FORBIDDEN_CHARS = frozenset(" ~^:?*[\\")
_HEX_RE = re.compile(r"^[0-9a-f]{4,64}$")
MAX_REF_LENGTH = 200


def ref_name_problem(name: str) -> str | None:
    """Return why ``name`` is not an acceptable ref name, or None when it is."""
    problem: str | None = None
    if not name:
        problem = "it is empty"
    elif len(name) > MAX_REF_LENGTH:
        problem = f"it is longer than {MAX_REF_LENGTH} characters"
    elif name.startswith("-"):
        problem = "it starts with '-'"
    elif any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
        problem = "it contains a control character"
    elif any(char in _FORBIDDEN_CHARS for char in name):
        problem = "it contains a space or one of ~ ^ : ? * [ \\"
    elif ".." in name or "@{" in name or "//" in name or name == "@":
        problem = "it contains '..', '@{' or '//', or is '@'"
    elif name.startswith("/") or name.endswith("/") or name.endswith("."):
        problem = "it starts or ends with '/' or ends with '.'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        problem = "a part of it starts with '.' or ends with '.lock'"
    return problem


def is_valid_branch_name(name: str) -> bool:
    return ref_name_problem(name) is None and name != "HEAD"


def require_ref_name(name: str, *, what: str = "ref name") -> str:
    """Return ``name`` unchanged, or raise :class:`RefNameError` saying what is wrong with it."""
    problem = ref_name_problem(name)
    if problem is not None:
        shown = name if len(name) <= 60 and name.isprintable() else repr(name[:60])
        raise RefNameError(f"{shown!r} is not a valid {what}: {problem}")
    return name


def looks_like_commit_id(value: str) -> bool:
    return bool(_HEX_RE.match(value))
