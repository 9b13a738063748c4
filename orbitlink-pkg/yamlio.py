"""Reading the project's YAML files (links, graphs, hardware profiles): safe loading, YAML 1.2
floats (``1e6``), and a duplicate key as an error naming the key and its line, never a silent
last-one-wins. In the root package so that every layer reads YAML the same way."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from orbitlink import OrbitlinkError


class YamlError(OrbitlinkError, ValueError):
    """A YAML file cannot be read (one sentence naming the file)."""


class _Loader(yaml.SafeLoader):
    """Safe loader that reads 1e6 and 2.5E-3 as numbers and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # PyYAML reports unhashable keys itself
            if key in seen:
                raise YamlError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                                f"(first on line {seen[key] + 1})")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def loads(text: str, where: str = "<text>", error=None):
    """Parse YAML text; errors (``error``, default :class:`YamlError`) name ``where`` (the
    file) and the line."""
    error = error or YamlError
    try:
        return yaml.load(text, Loader=_Loader)
    except YamlError as e:
        raise error(f"{where}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise error(f"{where}:{line} is not valid YAML") from None


def value(text: str):
    """A ``--set key=value`` value: YAML when it parses (numbers, true/false, lists), else the
    text itself."""
    try:
        return yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, YamlError):
        return text


def read_text(path, where: str | None = None) -> str:
    p = Path(path) if not hasattr(path, "read_text") else path
    where = where or str(path)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlError(f"{where}: the file must be UTF-8 text") from None
    except FileNotFoundError:
        raise YamlError(f"{where}: file not found") from None
    except IsADirectoryError:
        raise YamlError(f"{where}: is a directory, not a file") from None


def dumps(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)
