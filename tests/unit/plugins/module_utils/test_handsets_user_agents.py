# -*- coding: utf-8 -*-
"""Every User-Agent form of the table (roles/lab/files/phonesim/user_agents.yml) read by the one entry point.

The table lists the forms real handsets send, per vendor and product line, each with the source it was read from;
the same table is what the simulated phones send.  Each form must give exactly the vendor, the model as the vendor
writes it, the firmware as written and the MAC the User-Agent shows; exactly one vendor profile may claim it.
"""
from __future__ import absolute_import, division, print_function

import os

import pytest
import yaml

from ansible_collections.voipops.voip.plugins.module_utils.handsets import base, registrations

TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                     "roles", "lab", "files", "phonesim", "user_agents.yml")

with open(TABLE) as _handle:
    DATA = yaml.safe_load(_handle)
FORMS = DATA["forms"]
UNRECOGNISED = DATA["unrecognised"]


def _id(form):
    return "%s:%s:%s" % (form["vendor"], form["kind"], form["ua"])


def test_the_table_covers_every_vendor_and_kind_of_product_line():
    vendors = set(p.vendor for p in base.all_profiles())
    assert set(f["vendor"] for f in FORMS) == vendors
    lines = " ".join(f["line"] for f in FORMS).lower()
    for word in ("dect", "conference", "analogue adapter", "previous generation", "older brand", "oldest brand"):
        assert word in lines, word
    for vendor in vendors:
        kinds = set(f["kind"] for f in FORMS if f["vendor"] == vendor)
        assert kinds == {"sip", "http"}, vendor
    for form in FORMS + UNRECOGNISED:
        assert form.get("source"), form["ua"]
    assert len(set(f["ua"] for f in FORMS)) == len(FORMS), "a form is listed twice"


@pytest.mark.parametrize("form", FORMS, ids=_id)
def test_each_genuine_form_gives_vendor_model_firmware_and_mac(form):
    found = registrations.parse_user_agent(form["ua"])
    expected = {"vendor": form["vendor"], "model": str(form["model"]), "firmware": str(form["firmware"]),
                "mac": form["mac"]}
    assert found == expected


@pytest.mark.parametrize("form", FORMS, ids=_id)
def test_exactly_one_vendor_profile_claims_a_form(form):
    claims = [p.vendor for p in base.all_profiles() if p.parse_user_agent(form["ua"])]
    assert claims == [form["vendor"]]


@pytest.mark.parametrize("form", UNRECOGNISED, ids=lambda f: f["ua"] or "<empty>")
def test_forms_no_profile_reads(form):
    assert registrations.parse_user_agent(form["ua"]) is None


def test_firmware_is_kept_exactly_and_version_order_reads_it():
    """Letters, parentheses and leading zeros stay as the vendor wrote them; the one version order compares them."""
    by_ua = dict((f["ua"], f) for f in FORMS)
    assert registrations.parse_user_agent("Cisco/SPA122-1.4.1(SR5)")["firmware"] == "1.4.1(SR5)"
    assert registrations.parse_user_agent("Mozilla/4.0 (compatible; Snom M900 05.20.0001 000413b60680)")["firmware"] == "05.20.0001"
    assert "Sipura/SPA841-3.1.4(a0714sec)" in by_ua
    assert registrations.compare_versions("7.6.2b", "7.6.2a") == 1
    assert registrations.compare_versions("7.4.8a", "7.4.10") == -1
