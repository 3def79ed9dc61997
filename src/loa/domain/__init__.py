"""Pure rules, no I/O: phone numbers, text, templates, compliance, schedules, prices."""
