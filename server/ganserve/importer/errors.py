"""What an import can fail with. The CLI prints `<ClassName>: <message>` and exits 1."""

from __future__ import annotations


class ImporterError(Exception):
    """Base class: a pickle we cannot or will not import."""


class ImportRefused(ImporterError):
    """The pickle asks for something outside the allow-list (a global, a persistent id, a size)."""


class PickleFormatError(ImporterError):
    """Not a pickle, truncated, or not laid out the way torch and numpy write them."""


class UnsupportedNetwork(ImporterError):
    """A readable snapshot whose network ganserve cannot serve (layout, arguments, shapes)."""


class ModelExists(ImporterError):
    """The target model directory exists and --force was not given."""
