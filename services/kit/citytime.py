"""The city's calendar day: dates people write (a visit's day, a review date) are local.

A visit made at 08:00 in Yangzhou is on that day there, while UTC is still on the one
before; a rule such as "not recorded before it happens" must compare local days. China
Standard Time has no daylight saving. Defined once, with the city's reference data
(`contracts/city.py`), since the contracts' measures count on the city's day too.
"""

from __future__ import annotations

from contracts.city import CITY_TZ as CITY_TIME
from contracts.city import city_day, city_today

__all__ = ["CITY_TIME", "city_day", "city_today"]
