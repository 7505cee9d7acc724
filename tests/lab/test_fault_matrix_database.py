"""The fault matrix (tests/lab/fault_matrix.py) over the database section's faults."""

from tests.lab.fault_matrix import matrix_test

test_fault_trips_exactly_its_checks_and_reset_heals = matrix_test("database")
