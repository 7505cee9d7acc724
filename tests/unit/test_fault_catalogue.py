"""The lab's faults promise checks the catalogue has: their trips and unjudged ids are
checks of the fault's own section, and the lab's sections are the suite's."""

from __future__ import annotations

from lab.faults.framework import SECTIONS, load_fault_modules
from tests.catalogue import catalogue

FAULTS = load_fault_modules().all()


def test_every_fault_names_checks_of_its_own_section() -> None:
    section_of = {entry.id: entry.section for entry in catalogue()}
    wrong = {
        fault.name: [f"{c} ({section_of.get(c, 'not in the catalogue')})" for c in named]
        for fault in FAULTS
        if (
            named := [
                c for c in (*fault.trips, *fault.unjudged) if section_of.get(c) != fault.section
            ]
        )
    }
    assert wrong == {}, f"faults naming checks outside their section: {wrong}"


def test_the_lab_sections_are_sections_of_the_catalogue() -> None:
    assert set(SECTIONS) <= {entry.section for entry in catalogue()}
    assert {fault.section for fault in FAULTS} == set(SECTIONS)
