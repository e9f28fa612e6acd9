# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value vocabulary of the schemas: number ranges, e-mail addresses, ``until`` instants.

Durations, day lists and times of day are the SLA vocabulary and live in ``sla.py``, which the schemas use.

Each parser takes one source value and returns it normalised, or raises ValueError with a message
that the field-table validator reports at the value's file, line and field.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re


UNTIL_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:Z|\+00:00)$")
UTC = datetime.timezone.utc
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # one e-mail rule (estate contacts, user profiles)


class NumberRange(object):
    """An inclusive range of dialable numbers: ``2000-2999`` or ``+31201234000-+31201234999``."""

    __slots__ = ("start", "end", "width", "plus")

    def __init__(self, start, end, width, plus):
        self.start, self.end, self.width, self.plus = start, end, width, plus

    def __contains__(self, number):
        number = str(number).strip()
        plus = number.startswith("+")
        digits = number[1:] if plus else number
        if plus != self.plus or len(digits) != self.width or not digits.isdigit():
            return False
        return self.start <= int(digits) <= self.end

    def overlaps(self, other):
        return (self.plus == other.plus and self.width == other.width and self.start <= other.end
                and other.start <= self.end)

    def __len__(self):
        return self.end - self.start + 1

    def __str__(self):
        fmt = ("+" if self.plus else "") + "%0" + str(self.width) + "d"
        if self.start == self.end:
            return fmt % self.start
        return (fmt + "-" + fmt) % (self.start, self.end)

    __repr__ = __str__


def parse_number_range(value, e164=False):
    """Parse ``"2000-2999"``, ``"2000"``, ``"+31201234000-+31201234999"`` into a NumberRange.

    ``e164=True`` requires the ``+`` form with 8..15 digits (ITU-T E.164).  ValueError on bad input.
    """
    text = str(value).strip()
    if "-" in text[1:]:
        idx = text.index("-", 1)
        first, last = text[:idx].strip(), text[idx + 1:].strip()
    else:
        first = last = text
    ends = []
    for part in (first, last):
        plus = part.startswith("+")
        digits = part[1:] if plus else part
        if not digits.isdigit():
            raise ValueError("%r is not a number range like '2000-2999' or '+31201234000-+31201234999'" % (value,))
        ends.append((plus, digits))
    (plus_a, a), (plus_b, b) = ends
    if plus_a != plus_b:
        raise ValueError("%r mixes E.164 (+) and local numbers" % (value,))
    if len(a) != len(b):
        raise ValueError("%r: both ends must have the same number of digits" % (value,))
    if e164:
        if not plus_a:
            raise ValueError("%r is not E.164: it must start with '+'" % (value,))
        if not 8 <= len(a) <= 15 or a[0] == "0":
            raise ValueError("%r is not E.164: country code then 8 to 15 digits in all" % (value,))
    if int(a) > int(b):
        raise ValueError("%r: start is above end" % (value,))
    return NumberRange(int(a), int(b), len(a), plus_a)


def parse_until(value):
    """Parse an absolute UTC time; return (canonical string, datetime).  Raises ValueError."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() != datetime.timedelta(0):
            raise ValueError("must be an absolute UTC time like 2026-12-31T23:59:00Z")
        dt = value.astimezone(UTC).replace(microsecond=0)
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ"), dt
    text = str(value).strip()
    m = UNTIL_RE.match(text)
    if not m:
        raise ValueError("'%s' is not an absolute UTC time like 2026-12-31T23:59:00Z" % text)
    y, mo, d, h, mi, s = [int(x) if x else 0 for x in m.groups()]
    try:
        dt = datetime.datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError("'%s' is not a valid time: %s" % (text, exc))
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ"), dt
