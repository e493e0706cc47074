"""The exceptions kb raises; each says what is wrong and, where it can, what to run."""
from __future__ import annotations


class KBError(Exception):
    """Base class of every error kb raises on purpose."""


class ArticleError(KBError):
    """An article file that cannot be used: names the file and the field."""

    def __init__(self, path: str, field: str | None, reason: str):
        self.path = str(path)
        self.field = field
        self.reason = reason
        where = f"{self.path}: {field}" if field else self.path
        super().__init__(f"{where}: {reason}")


class BuildError(KBError):
    """The build refused to publish; the live index is untouched."""

    def __init__(self, message: str, errors: list[ArticleError] | None = None, golden=None):
        self.errors = list(errors or [])
        self.golden = golden
        super().__init__(message)


class IndexNotBuilt(KBError):
    """No index has been built in the index directory yet."""


class IndexMismatch(KBError):
    """The index was built with another model or format than the one configured."""


class IndexCorrupt(KBError):
    """A file of the index directory is missing or unreadable."""


class ModelNotAvailable(KBError):
    """The configured embedding model cannot be loaded on this machine."""
