"""YAML to plain data, remembering the line of every key and item.

Pure: no DB, no web. PyYAML composes the node tree (which carries line marks); we build
the data ourselves so that each path can be traced back to its line, duplicate keys are
caught (PyYAML silently keeps the last one) and decimals stay exact.
"""

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml

Path = tuple[str | int, ...]

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FLOAT_TAG = "tag:yaml.org,2002:float"
# An alias can repeat a whole subtree; cap the expanded size (billion laughs).
MAX_NODES = 200_000


@dataclass
class MarkedData:
    """The document's data, the line of each path, and the problems met on the way."""

    data: object = None
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


class _TooLarge(Exception):
    pass


def load_marked(text: str) -> MarkedData:
    """Parse one YAML document; syntax errors become problems with their line."""
    result = MarkedData()
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        what = error.problem or error.context or "erreur inconnue"
        if error.context and error.context_mark and error.context_mark.line + 1 != line:
            what += f" ({error.context}, ligne {error.context_mark.line + 1})"
        result.problems.append((line, f"syntaxe YAML invalide : {what}"))
        return result
    except yaml.YAMLError as error:
        result.problems.append((1, f"syntaxe YAML invalide : {error}"))
        return result
    if node is None:
        result.problems.append((1, "document YAML vide"))
        return result
    counter = [0]
    try:
        result.data = _build(loader, node, (), result, counter)
    except _TooLarge:
        result.data = None
        result.problems.append(
            (1, f"document trop volumineux : plus de {MAX_NODES} éléments (alias imbriqués ?)")
        )
    except RecursionError:  # an alias inside its own anchor (&a [*a]), or aliases nested deep
        result.data = None
        result.problems.append((1, "document trop imbriqué : alias récursif ou trop profond"))
    finally:
        loader.dispose()
    return result


def _build(loader, node, path: Path, out: MarkedData, counter: list[int]):
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise _TooLarge
    out.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        mapping: dict = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            key = _scalar(loader, key_node, out) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int) or isinstance(key, bool):
                out.problems.append((key_line, "clé invalide : une clé doit être un texte simple"))
                continue
            if key in mapping:
                first = out.lines.get((*path, key), key_line)
                out.problems.append(
                    (key_line, f"clé « {key} » en double (déjà définie ligne {first})")
                )
                continue
            out.lines[(*path, key)] = key_line
            mapping[key] = _build(loader, value_node, (*path, key), out, counter)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, index), out, counter)
            for index, item in enumerate(node.value)
        ]
    return _scalar(loader, node, out)


def _scalar(loader, node, out: MarkedData):
    try:
        if node.tag == _FLOAT_TAG:
            # Exact arithmetic starts here: 17.2 stays Decimal("17.2"), never a binary float.
            try:
                return Decimal(node.value.replace("_", ""))
            except InvalidOperation:
                return loader.construct_object(node, deep=True)
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as error:  # a tag refused by the safe loader, !!binary not base64
        what = getattr(error, "problem", None) or error
        out.problems.append((node.start_mark.line + 1, f"valeur YAML refusée : {what}"))
        return None
    except Exception:
        # A value PyYAML fails to build (2026-02-30, an integer of 5000 digits, !!bool oui?):
        # kept as written, for validation to refuse it with the field's own message.
        return node.value
