"""The demo city's department systems, each a small program on the department connector
(`tongxin.connector`), run as processes of their own by `make run`:

- `python -m departments.checks`: public security answers background-check requests;
- `python -m departments.referrals`: civil affairs refers a newly registered child to care,
  sealed to care's key;
- `python -m departments.reports`: the departments' own reports (a legal lecture by jus, a
  drill supervised by pol, …), each department with its own NATS user.

They are how a department's developers would write theirs: settings from the environment,
typed events from `contracts/`, no service's code imported.
"""
