"""Enforcement and routing rules: versioned YAML conditions over an item's evidence and fields, with
statuses draft / shadow / live / expired, hit logs, and backtests over the stored history (docs/rules.md).

`evaluate(rule, item_view)` is pure; `apply_rules(store, item_ids)` runs the rules in force after a scan.
"""

from posbon.rules.backtest import BacktestError, BacktestResult, Overlap, Sample, backtest
from posbon.rules.conditions import ConditionError, ItemView, matches, parse_condition, triggering
from posbon.rules.definitions import (
    ACTIONS,
    KINDS,
    STATUSES,
    Enforce,
    Route,
    Rule,
    RuleError,
    evaluate,
    load_rules_file,
    parse_rules,
    rule_from_document,
)
from posbon.rules.service import (
    RulesApplied,
    apply_rules,
    hits,
    list_rules,
    load_rule,
    routes,
    rule_history,
    rules_in_force,
    set_status,
    stored_rule,
)

__all__ = [
    "ACTIONS",
    "KINDS",
    "STATUSES",
    "BacktestError",
    "BacktestResult",
    "ConditionError",
    "Enforce",
    "ItemView",
    "Overlap",
    "Route",
    "Rule",
    "RuleError",
    "RulesApplied",
    "Sample",
    "apply_rules",
    "backtest",
    "evaluate",
    "hits",
    "list_rules",
    "load_rule",
    "load_rules_file",
    "matches",
    "parse_condition",
    "parse_rules",
    "routes",
    "rule_from_document",
    "rule_history",
    "rules_in_force",
    "set_status",
    "stored_rule",
    "triggering",
]
