"""Shifts the wall clock of every Python process that starts with this folder on PYTHONPATH, so
the suite can show that no expectation depends on the real date or hour.

`CHATOPS_TIMESHIFT` is the moment the first process's clock starts at (ISO 8601, e.g.
`2027-01-09T23:40+09:00`, a Saturday night in Tokyo). That process turns it into an offset from
the real clock (`CHATOPS_TIMESHIFT_OFFSET`, inherited by the processes it starts), so a server a
test starts later agrees with the test about what time it is. Clocks keep running (`tick=True`):
sleeps, timeouts and monotonic time behave as usual. `make test-shifted` runs the suite at
several such moments.
"""

import os

if os.environ.get("CHATOPS_TIMESHIFT"):
    import time
    from datetime import datetime

    import time_machine

    if "CHATOPS_TIMESHIFT_OFFSET" not in os.environ:
        target = datetime.fromisoformat(os.environ["CHATOPS_TIMESHIFT"]).timestamp()
        os.environ["CHATOPS_TIMESHIFT_OFFSET"] = repr(target - time.time())
    time_machine.travel(time.time() + float(os.environ["CHATOPS_TIMESHIFT_OFFSET"]), tick=True).start()
