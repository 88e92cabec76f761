"""Assess: evidence -> verdict (match / review / clear), risk and reasons."""

from posbon.assess.assessor import AssessPolicy, assess

__all__ = ["AssessPolicy", "assess"]
