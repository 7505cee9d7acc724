"""Lab faults: the framework (framework.py) and one module or package per runbook section.

Each section's faults live in `lab/faults/<section>` (a module, or a package of modules);
`framework.load_fault_modules()` imports them all, and the sections are the names found
here, so adding a section's faults needs no other change. Underscore modules are what
several sections' faults share.
"""
