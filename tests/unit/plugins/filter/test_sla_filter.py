# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.voipops.voip.plugins.filter.sla import FilterModule

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FILTERS = FilterModule().filters()


def test_sla_deadline_business_hours():
    due = FILTERS["sla_deadline"]("2026-11-27T17:30:00+01:00", "4h", coverage="business_hours",
                                  timezone="Europe/Amsterdam", business_hours={"days": "mon-fri", "start": "08:00", "end": "18:00"})
    assert due == "2026-11-30T11:30:00+01:00"
    assert FILTERS["sla_deadline"]("2026-11-27T16:30:00Z", "4h", timezone="Europe/Amsterdam") == "2026-11-27T21:30:00+01:00"


def test_sla_deadline_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="not a duration"):
        FILTERS["sla_deadline"]("2026-11-27T17:30:00+01:00", "4 hours")
    with pytest.raises(AnsibleFilterError, match="coverage"):
        FILTERS["sla_deadline"]("2026-11-27T17:30:00+01:00", "4h", coverage="weekdays")


def test_priority_and_versions():
    assert FILTERS["sla_priority"]("major", "site") == "P2"
    assert FILTERS["version_compare"]("96.86.0.9", "96.86.0.100", "<")
    assert not FILTERS["version_compare"]("96.86.0.9", "96.86.0.100", ">=")
    with pytest.raises(AnsibleFilterError):
        FILTERS["version_compare"]("1", "2", "~")


def test_filters_work_from_a_real_playbook(tmp_path):
    play = tmp_path / "play.yml"
    play.write_text("""
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: >-
          {{ '2026-11-27T17:30:00+01:00' | voipops.voip.sla_deadline('4h', coverage='business_hours', timezone='Europe/Amsterdam') }}|
          {{- 'critical' | voipops.voip.sla_priority('group') }}|{{ '6.4.6.2410' | voipops.voip.version_compare('6.4.10', '<') }}
""")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".state", "collections"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_REMOTE_TMP=str(tmp_path / "tmp"))
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local",
                          str(play)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2026-11-30T11:30:00+01:00|P2|True" in out.stdout


def test_mask_url_filter_is_the_modules_rule():
    mask = FILTERS["mask_url"]
    assert mask("postgresql://voip:s3cret@db:5432/kamailio") == "postgresql://voip:********@db:5432/kamailio"
    assert mask("https://hooks.example.org/services/T0/B0/XYZ") == "https://hooks.example.org/services/********"
    assert mask("sqlite:////var/lib/kamailio/kamailio.db") == "sqlite:////var/lib/kamailio/kamailio.db"
