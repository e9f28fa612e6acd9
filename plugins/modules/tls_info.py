#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tls_info
short_description: Read the TLS certificates of many endpoints at once (expiry audit)
version_added: 0.1.0
description:
  - Connects to every target with TLS (SIP over TLS, HTTPS provisioning servers, management interfaces)
    concurrently and returns its certificate - subject, issuer, SANs, validity dates and days left.
  - The handshake does not verify the certificate, so expired and self-signed certificates are read and reported
    too. Give O(ca_path) to also check that each certificate verifies for its host name against that CA.
  - Its C(results) are the C(certificates) input of M(voipops.voip.audit_report).
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  targets:
    description:
      - The endpoints. A string is C(host:port), C(host) (port O(default_port)), C(https://host:port/...) or
        C(sips:host:port).
      - A dict has C(host), optionally C(port), C(name) (the component name reported back) and C(server_name)
        (the SNI name, default C(host)).
    type: list
    elements: raw
    required: true
  default_port:
    description: Port used when a target names none.
    type: int
    default: 443
  timeout:
    description: Seconds to wait for each TLS handshake.
    type: float
    default: 5
  concurrency:
    description: How many handshakes run at the same time.
    type: int
    default: 100
  ca_path:
    description: A CA bundle (PEM) to verify every certificate and host name against; sets C(verified).
    type: path
  warn_days:
    description: Certificates with fewer days left are counted as C(expiring) in the summary.
    type: int
    default: 30
requirements:
  - cryptography
seealso:
  - module: voipops.voip.audit_report
"""

EXAMPLES = r"""
- name: Certificates of the provisioning servers and SBCs
  voipops.voip.tls_info:
    targets:
      - https://prov.example.org
      - {name: sbc1, host: 192.0.2.10, port: 5061}
  register: tls

- name: Ad hoc
  ansible.builtin.command: ansible localhost -m voipops.voip.tls_info -a "targets=prov.example.org:443"
  changed_when: false
"""

RETURN = r"""
results:
  description: One record per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The target's name (given, or C(host:port)).
      type: str
    host:
      description: Host connected to.
      type: str
    port:
      description: Port connected to.
      type: int
    ok:
      description: Whether a certificate was read.
      type: bool
    error:
      description: Why not - starts with C(timeout), C(refused), C(tls_error), C(dns_error) or C(error).
      type: str
    not_after:
      description: End of validity, UTC, ISO 8601.
      type: str
      sample: "2027-01-31T12:00:00Z"
    not_before:
      description: Start of validity, UTC, ISO 8601.
      type: str
    days_left:
      description: Whole days until the certificate expires (negative when expired).
      type: int
    expired:
      description: Whether the certificate has expired.
      type: bool
    subject:
      description: Subject (its common name when it has one).
      type: str
    issuer:
      description: Issuer (its common name when it has one).
      type: str
    san:
      description: Subject alternative names (DNS names and IP addresses).
      type: list
      elements: str
    self_signed:
      description: Whether subject and issuer are the same.
      type: bool
    sha256_fingerprint:
      description: SHA-256 of the certificate (DER).
      type: str
    verified:
      description: With O(ca_path), whether the certificate verifies for the host name.
      type: bool
    verify_error:
      description: With O(ca_path), why it does not verify.
      type: str
summary:
  description: Counts over all targets.
  returned: always
  type: dict
  sample: {"total": 3, "ok": 2, "failed": 1, "expired": 0, "expiring": 1, "min_days_left": 5}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.voipops.voip.plugins.module_utils import tls


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="raw", required=True),
            default_port=dict(type="int", default=443),
            timeout=dict(type="float", default=5.0),
            concurrency=dict(type="int", default=100),
            ca_path=dict(type="path"),
            warn_days=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    if not tls.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=tls.CRYPTOGRAPHY_IMPORT_ERROR)
    p = module.params
    targets, errors = [], []
    for index, raw in enumerate(p["targets"]):
        try:
            targets.append(tls.parse_target(raw, p["default_port"]))
        except (ValueError, TypeError) as exc:
            errors.append("targets[%d]: %s" % (index, exc))
    if errors:
        module.fail_json(msg="invalid targets, nothing was contacted: " + "; ".join(errors))
    results = tls.read_many(targets, timeout=p["timeout"], concurrency=p["concurrency"], ca_path=p["ca_path"])
    module.exit_json(changed=False, results=results, summary=tls.summarize(results, p["warn_days"]))


if __name__ == "__main__":
    main()
