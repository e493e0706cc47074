"""kb: a help-center search and answer engine over a folder of Markdown articles."""

__version__ = "0.1.0"
