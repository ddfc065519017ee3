"""`mirnet report`: every system scored side by side on the same trial lists, in one run, and
written up as REPORT.md with the command behind each number (``writer``)."""

from .writer import write_report

__all__ = ["write_report"]
