# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared attribute documentation (check mode, diff mode, idempotence)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This action does not modify state.
  diff_mode:
    support: N/A
    details: This action does not modify state.
  idempotent:
    support: full
    description: When run twice in a row with the same arguments, the second run reports no change.
"""

    CHANGES = r"""
options: {}
attributes:
  idempotent:
    description: When run twice in a row with the same arguments, the second run reports no change.
"""
