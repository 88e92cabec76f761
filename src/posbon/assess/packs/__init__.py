"""Shipped indicator packs (YAML) and context cues; loaded by posbon.assess.indicator_packs."""
