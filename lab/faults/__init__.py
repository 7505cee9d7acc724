"""Lab faults: the framework (base.py) and one module per runbook section.

Importing `lab.faults.base.load_fault_modules()` imports every module here,
so a section's faults live in `lab/faults/<section>.py` and need no other change.
"""
