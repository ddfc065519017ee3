"""Evaluation: the paper's mixture-verification protocol, its metrics, figures and reports."""

# The trial conditions (defined in ``protocol``), named here so that the CLI can offer them
# without importing torch.
CONDITION_NAMES = ("mixture", "clean", "enrolled", "separated", "cascade")
