"""`mirnet report`: every system scored side by side on the same trial lists, in one run, and
written up as REPORT.md with the command behind each number: a ``ReportPlan`` (``plan``) says what
the report is about, ``write_report`` (``writer``) carries it out."""

from .plan import PlanError, ReportPlan
from .writer import write_report

__all__ = ["PlanError", "ReportPlan", "write_report"]
