"""Shifts the wall clock of every Python process that starts with this folder on PYTHONPATH, so
the suite can show that no expectation depends on the real date or hour.

`CHATOPS_TIMESHIFT` is the moment the clock starts at (ISO 8601, e.g. `2027-01-02T23:30+09:00`,
a Saturday night in Tokyo); the clock then runs on from there (`tick=True`), so sleeps, timeouts
and monotonic time behave as usual. `make test-shifted` runs the suite at several such moments.
"""

import os

_moment = os.environ.get("CHATOPS_TIMESHIFT")
if _moment:
    import time_machine

    time_machine.travel(_moment, tick=True).start()
