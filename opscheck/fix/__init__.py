"""--fix: the plugin registered only when --fix is given, its policy, verification,
the run's ledger of claimed changes, and the outcome each fix ends with."""
