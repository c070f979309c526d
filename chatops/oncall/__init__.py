"""On-call: who holds a schedule when, escalation of pages, acknowledgements.

Pure core: imports no Slack, Teams or HTTP code.
"""
