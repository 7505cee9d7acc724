"""Reports: the writers, one class per format, which run only on the xdist controller (but
allure_details, which adds to each Allure result where it is written); the kept runs
(runs); and the commands that read kept runs: the HTML report (html) and the postmortem
draft (postmortem)."""
