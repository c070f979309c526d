"""SLA: business calendars, deadline arithmetic and the clock that warns before a breach.

Pure core: imports no Slack, Teams or HTTP code.
"""

from chatops.sla.calendar import AlwaysOpen, BusinessCalendar, Calendar
from chatops.sla.clock import Deadlines, SlaClock

__all__ = ["AlwaysOpen", "BusinessCalendar", "Calendar", "Deadlines", "SlaClock"]
