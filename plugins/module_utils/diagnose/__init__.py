# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Triage of one extension ("my phone doesn't work"): evidence through the drivers and readers, pure reasoning.

- ``accesslog``: the provisioning server's access log (nginx ``prov`` format) -> fetch records (pure parser).
- ``gather``: the evidence of each step, through the callserver driver, the estate, the provisioning files, the
  access log, the one registration matcher and the SIP engine (the only I/O of the package).
- ``steps``: the reasoning of each step over that evidence (pure, unit-tested): observations, one of which may
  be a proven cause.
- ``route``: the cause routed to its supplier with SLA deadlines through the audit's own build (``audit/build.py``,
  ``sla.py``).
- ``card``: the readable card (pure).
- ``engine``: the steps in dependency order, stopping at the first proven cause.
"""
