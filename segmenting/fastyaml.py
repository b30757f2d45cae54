"""A faster ``yaml.safe_load`` for the plain YAML inventories are written in.

PyYAML's C loader parses in C but builds every node and every Python object in Python: on a
50,000-camera ``cameras.yml`` that is most of the time ``cloison validate`` takes. This module
walks the C parser's event stream and builds dicts, lists and scalars directly, resolving each
distinct plain scalar once (ids repeat little, but vocabularies — auth methods, purposes,
models, ports — repeat thousands of times).

It gives exactly what ``yaml.load(text, Loader=CSafeLoader)`` gives: scalars are resolved by the
same :class:`yaml.resolver.Resolver` and built by the same :class:`yaml.SafeConstructor`
methods. Anything less common — anchors and aliases, explicit tags, merge keys, complex keys,
several documents, and every error — is handed to PyYAML itself, so that behaviour and error
messages stay PyYAML's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

try:  # the C parser is what makes this worthwhile; without libyaml use PyYAML as is
    _Loader: Any = yaml.CSafeLoader
    _HAVE_C = True
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader
    _HAVE_C = False


class _Unsupported(Exception):
    """The text uses a YAML feature the fast path leaves to PyYAML."""


_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"
_BUILDERS: dict[str, Callable[[yaml.ScalarNode], Any]] = {
    "tag:yaml.org,2002:null": _CONSTRUCTOR.construct_yaml_null,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
}
_NO_KEY = object()  # a mapping waiting for its next key


def _plain(value: str, cache: dict[str, Any]) -> Any:
    """A plain (unquoted) scalar, resolved the way SafeLoader resolves it."""
    try:
        return cache[value]
    except KeyError:
        pass
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if tag == _STR_TAG:
        result: Any = value
    elif tag in _BUILDERS:
        result = _BUILDERS[tag](yaml.ScalarNode(tag, value))
    else:  # merge keys ("<<"), value keys ("="): PyYAML's business
        raise _Unsupported(tag)
    cache[value] = result
    return result


def _build(text: str) -> Any:
    # UTF-8 bytes, not str: libyaml reads them directly, where a str input costs ~40 % more
    # (measured on a 50,000-camera file). The scalars come back as str either way.
    parser = _Loader(text.encode("utf-8"))
    try:
        return _walk(parser.get_event)
    finally:
        parser.dispose()


def _walk(next_event: Callable[[], Any]) -> Any:
    """Build the document from parser events (one loop, no per-event function call: hot path)."""
    root: Any = None
    stack: list[Any] = []  # open containers
    keys: list[Any] = []  # per open container: the key waiting for its value (mappings)
    cache: dict[str, Any] = {}
    documents = 0
    while True:
        event = next_event()
        kind = type(event)
        container = False
        if kind is ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Unsupported("anchor or tag")
            if event.implicit[0]:
                value = event.value
                value = cache[value] if value in cache else _plain(value, cache)
            else:
                value = event.value
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.tag is not None:
                raise _Unsupported("anchor or tag")
            value = {} if kind is MappingStartEvent else []
            container = True
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
            keys.pop()
            continue
        elif kind is AliasEvent:
            raise _Unsupported("alias")
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unsupported("several documents")  # PyYAML says why that is refused
            continue
        elif kind is StreamEndEvent or event is None:
            return root
        else:
            continue
        # Attach the value to its parent.
        if not stack:
            root = value
        else:
            top = stack[-1]
            if type(top) is list:
                top.append(value)
            elif keys[-1] is _NO_KEY:
                if container:
                    raise _Unsupported("complex key")
                keys[-1] = value
            else:
                top[keys[-1]] = value
                keys[-1] = _NO_KEY
        if container:
            stack.append(value)
            keys.append(_NO_KEY)


def safe_load(text: str) -> Any:
    """``yaml.load(text, Loader=CSafeLoader)``, faster on plain inventories; raises the same errors."""
    if _HAVE_C:
        try:
            return _build(text)
        except (_Unsupported, yaml.YAMLError, ValueError, TypeError):
            pass  # let PyYAML build it, or raise its own error with its own message
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
