# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The list of vendor profiles.  Adding a vendor = adding its file and one name on the import line.

Explicit imports (not directory scanning) because AnsiballZ ships only the module_utils it can see
imported, so a profile must be reachable by a static import to exist on the managed node.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.voipops.voip.plugins.module_utils.handsets import (  # noqa: F401 pylint: disable=unused-import
    cisco,
    grandstream,
    poly,
    snom,
    yealink,
)
