"""Reflection follow-up: asking, some days after an outcome, how the decision turned out."""
