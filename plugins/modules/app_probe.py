#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: app_probe
short_description: Probe the estate's links to other applications (CTI, directory, voicemail, paging, ...), in bulk
version_added: 0.2.0
description:
  - Probes every application link concurrently, each by its endpoint's scheme, and reports per link whether it works
    and, when not, what exactly failed.
  - V(tcp://host:port) is a TCP connect. V(tls://host:port) is a TLS handshake that also reads the certificate's
    expiry (the reader of M(voipops.voip.tls_info)).
  - V(http://...) and V(https://...) is a GET whose status must be in C(expect.status) (default any 2xx or 3xx) and
    whose body must match the regular expression C(expect.body) when given; https also reads the certificate.
  - V(sip:...) and V(sips:...) is a SIP OPTIONS (the engine of M(voipops.voip.sip_probe)); any final response counts
    unless C(expect.status) lists the codes that do.
  - V(ldap://host:port) and V(ldaps://host:port) is a bind as C(ldap.bind_dn) (anonymous without one) and a search
    under C(ldap.search_base) with C(ldap.filter) that must return at least C(ldap.min_entries) entries (ldap3).
  - The links usually come from the estate (section C(applications), see the collection's C(docs/estate.md)); the
    P(voipops.voip.estate#inventory) inventory gives each application host a C(voipops_app_target) that is one item
    of O(targets). M(voipops.voip.audit_report) turns the results into findings for each link's supplier.
  - A password is never part of a target, only a reference to where it is kept; the module reads it while probing
    and it appears in no result.
  - Read-only, so it runs normally in check mode. It never fails because a link is down.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.INFO_MODULE
options:
  targets:
    description:
      - The links to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The link's name (the estate component), echoed in its result.
        type: str
        required: true
      kind:
        description: What the link is for (V(cti), V(contact_centre), V(voicemail), V(directory), V(paging),
          V(alarm), V(recording), V(carrier_sbc)); echoed in the result.
        type: str
      endpoint:
        description: Where it answers (V(tcp://h:p), V(tls://h:p), V(http(s\)://...), V(sip:...), V(ldap(s\)://h:p)).
        type: str
        required: true
      expect:
        description: For http(s) and sip, C(status) (a list of codes that count as working) and for http(s) C(body)
          (a regular expression the body must match).
        type: dict
      ldap:
        description:
          - For ldap(s), C(bind_dn), C(password) (a reference C({env NAME}), C({file PATH}) or C({var NAME}), the
            latter a key of O(secrets)), C(search_base), C(filter) and C(min_entries) (default 1).
        type: dict
      timeout:
        description: Seconds for this link (default O(timeout)).
        type: float
      base_dir:
        description: Directory a relative C({file PATH}) password reference is read from (the estate file's).
        type: path
  secrets:
    description:
      - Values of the C({var NAME}) password references, by name (for example from Ansible Vault).
    type: dict
    default: {}
  timeout:
    description: Seconds per link (connection set-up included).
    type: float
    default: 5.0
  concurrency:
    description: How many links are probed at once.
    type: int
    default: 20
requirements:
  - requests (for http and https links)
  - ldap3 (for ldap and ldaps links)
  - cryptography (for tls and https links)
seealso:
  - module: voipops.voip.audit_report
  - module: voipops.voip.sip_probe
  - module: voipops.voip.tls_info
"""

EXAMPLES = r"""
- name: Probe every application link of the estate (estate inventory loaded)
  voipops.voip.app_probe:
    targets: "{{ groups['applications'] | map('extract', hostvars, 'voipops_app_target') | list }}"
    secrets:
      directory_bind: "{{ vault_directory_bind_password }}"
  register: apps

- name: Probe two links given by hand
  voipops.voip.app_probe:
    targets:
      - name: cti
        kind: cti
        endpoint: tcp://cti.example.net:7001
      - name: directory
        kind: directory
        endpoint: ldaps://ldap.example.net
        ldap:
          bind_dn: cn=voip-probe,ou=services,dc=example,dc=net
          password: {env: DIRECTORY_PROBE_PASSWORD}
          search_base: ou=people,dc=example,dc=net
          filter: (telephoneNumber=*)
"""

RETURN = r"""
results:
  description: One result per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The link's name.
      type: str
    kind:
      description: The link's kind.
      type: str
    endpoint:
      description: The endpoint probed.
      type: str
    scheme:
      description: Its scheme (how it was probed); null when the endpoint could not be read.
      type: str
    status:
      description: V(ok); V(down) (nothing answers - refused, timeout, no route); V(error) (an answer, but not the
        expected one - HTTP status or body, SIP code, LDAP bind or search - or a bad target).
      type: str
    ok:
      description: Whether the status is V(ok).
      type: bool
    rtt_ms:
      description: Milliseconds the probe took.
      type: float
    error:
      description: What failed, or null.
      type: str
    details:
      description: Per scheme, C(status_code) (http), C(code) and C(reason) (sip), C(bound_as) and C(entries)
        (ldap; entries are counted up to C(min_entries), the search asks for no more), C(certificate) C({subject, not_after, days_left, expired}) (tls, https).
      type: dict
  sample:
    - {"name": "directory", "kind": "directory", "endpoint": "ldap://127.0.0.1:3389/", "scheme": "ldap",
       "status": "ok", "ok": true, "rtt_ms": 12.4, "error": null,
       "details": {"bound_as": "cn=admin,dc=voip,dc=lab", "entries": 2}}
summary:
  description: Counts over all targets.
  returned: always
  type: dict
  sample: {"total": 4, "ok": 3, "failed": 1, "by_status": {"ok": 3, "down": 1, "error": 0}}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.voipops.voip.plugins.module_utils import apps


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                kind=dict(type="str"),
                endpoint=dict(type="str", required=True),
                expect=dict(type="dict"),
                ldap=dict(type="dict"),
                timeout=dict(type="float"),
                base_dir=dict(type="path"),
            )),
            secrets=dict(type="dict", default={}, no_log=True),
            timeout=dict(type="float", default=5.0),
            concurrency=dict(type="int", default=20),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for lib, error in apps.missing_libraries(p["targets"]):
        module.fail_json(msg=missing_required_lib(lib), exception=error)
    results = apps.probe_many(p["targets"], timeout=p["timeout"], concurrency=p["concurrency"], secrets=p["secrets"])
    module.exit_json(changed=False, results=results, summary=apps.summarize(results))


if __name__ == "__main__":
    main()
