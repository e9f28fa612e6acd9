# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: lab_daemon
short_description: Run a foreground daemon of the embedded lab, supervised by pid
version_added: 0.1.0
description:
  - Starts O(command) detached in its own session, with output to O(log), and records its pid and a
    fingerprint of its configuration beside O(pidfile).
  - A daemon that already runs with the same command and fingerprint is left alone (no change); a changed
    fingerprint restarts it; a dead one (crashed, killed) is started again.
  - Stops only what it started, by the recorded pid and its process group, never by process name.
  - Waits until the O(ready) checks pass; on failure it stops the daemon and shows the end of its log.
  - The lab role's own module (C(roles/lab/library)), called by its short name in the role's tasks; it is not
    part of the collection's plugins. Ansible finds it because the lab playbooks load the role by path.
author: voipops maintainers (@voipops)
extends_documentation_fragment:
  - voipops.voip.attributes
  - voipops.voip.attributes.CHANGES
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description: Name of the component, used in messages.
    type: str
    required: true
  state:
    description:
      - V(started) makes sure it runs with this command and fingerprint; V(stopped) stops it;
        V(restarted) always restarts it.
    type: str
    choices: [started, stopped, restarted]
    default: started
  command:
    description: The program and its arguments; it must stay in the foreground. Required for V(started) and V(restarted).
    type: list
    elements: str
  pidfile:
    description: Where the pid (and, in C(<pidfile>.json), the record) is kept.
    type: path
    required: true
  log:
    description: File that receives the daemon's stdout and stderr. Defaults to C(<pidfile>.log).
    type: path
  chdir:
    description: Working directory of the daemon.
    type: path
  environment:
    description: Extra environment variables.
    type: dict
    default: {}
  fingerprint:
    description: Any string that changes when the daemon must be restarted, typically checksums of its configuration files.
    type: str
    default: ""
  ready:
    description:
      - Checks that must all pass before the daemon counts as started.
      - Each item is a dict with one key, V(tcp) (a listening TCP port), V(udp) (a bound UDP port),
        V(http) (a URL that answers with any HTTP status) or V(file) (a path that exists).
    type: list
    elements: dict
    default: []
  ready_timeout:
    description: Seconds to wait for the O(ready) checks.
    type: float
    default: 30
  stop_timeout:
    description: Seconds between SIGTERM and SIGKILL when stopping.
    type: float
    default: 10
"""

EXAMPLES = r"""
- name: Kamailio of the lab
  lab_daemon:
    name: kamailio
    command: [kamailio, -DD, -E, -f, "{{ lab_state_dir }}/kamailio/kamailio.cfg", -m, "64", -M, "8"]
    pidfile: "{{ lab_state_dir }}/run/kamailio.pid"
    fingerprint: "{{ kamailio_cfg.checksum }}"
    ready:
      - udp: "{{ lab_ports.ports.kamailio_sip }}"
      - http: "http://127.0.0.1:{{ lab_ports.ports.kamailio_rpc }}/"

- name: Stop it again
  lab_daemon:
    name: kamailio
    state: stopped
    pidfile: "{{ lab_state_dir }}/run/kamailio.pid"
"""

RETURN = r"""
pid:
  description: Pid (and process group) of the daemon after the task; null when stopped.
  returned: always
  type: int
action:
  description: What was done, one of V(none), V(started), V(restarted), V(stopped).
  returned: always
  type: str
reason:
  description: Why it was (re)started, for example C(not running) or C(fingerprint changed).
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import lab_supervisor as lab


def main():
    # over 80 lines: the argument spec and the three states of one supervised process, read top to bottom
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="started", choices=["started", "stopped", "restarted"]),
            command=dict(type="list", elements="str"),
            pidfile=dict(type="path", required=True),
            log=dict(type="path"),
            chdir=dict(type="path"),
            environment=dict(type="dict", default={}),
            fingerprint=dict(type="str", default=""),
            ready=dict(type="list", elements="dict", default=[]),
            ready_timeout=dict(type="float", default=30.0),
            stop_timeout=dict(type="float", default=10.0),
        ),
        required_if=[("state", "started", ("command",)), ("state", "restarted", ("command",))],
        supports_check_mode=True,
    )
    p = module.params
    name, pidfile = p["name"], p["pidfile"]
    log = p["log"] or pidfile + ".log"
    record = lab.read_record(pidfile)
    running = lab.record_alive(record)
    before = {"running": running, "pid": record["pid"] if running else None,
              "fingerprint": record.get("fingerprint") if running and record else None}

    if p["state"] == "stopped":
        if not running:
            if record and not module.check_mode:
                lab.stop_daemon(record, pidfile)  # clean stale files
            module.exit_json(changed=False, pid=None, action="none", reason="not running",
                             diff={"before": before, "after": before})
        if not module.check_mode:
            lab.stop_daemon(record, pidfile, timeout=p["stop_timeout"])
        after = {"running": False, "pid": None, "fingerprint": None}
        module.exit_json(changed=True, pid=None, action="stopped", reason="stop requested",
                         diff={"before": before, "after": after})

    command = p["command"]
    reason = ""
    if p["state"] == "restarted":
        reason = "restart requested"
    elif not running:
        reason = "not running" if not record else "process %s is gone" % record.get("pid")
    elif record.get("argv") != command:
        reason = "command changed"
    elif (record.get("fingerprint") or "") != p["fingerprint"]:
        reason = "fingerprint changed"
    else:
        pending = lab.check_ready(p["ready"])
        if pending:
            reason = "running but unhealthy: %s" % "; ".join(pending)
    if not reason:
        module.exit_json(changed=False, pid=record["pid"], action="none", reason="running",
                         diff={"before": before, "after": before})

    after = {"running": True, "pid": None, "fingerprint": p["fingerprint"]}
    action = "restarted" if running else "started"
    if module.check_mode:
        module.exit_json(changed=True, pid=before["pid"], action=action, reason=reason,
                         diff={"before": before, "after": after})
    if running:
        lab.stop_daemon(record, pidfile, timeout=p["stop_timeout"])
    elif record:
        lab.stop_daemon(record, pidfile)
    rundir = os.path.dirname(pidfile)
    if rundir and not os.path.isdir(rundir):
        os.makedirs(rundir)
    try:
        new, proc = lab.start_daemon(command, pidfile, log, chdir=p["chdir"], env=p["environment"],
                                     fingerprint=p["fingerprint"])
    except OSError as exc:
        module.fail_json(msg="%s: cannot start %s: %s" % (name, command[0], exc.strerror), action="failed")
    ok, why = lab.wait_ready(new, p["ready"], p["ready_timeout"], proc=proc)
    if not ok:
        lab.stop_daemon(new, pidfile, timeout=2.0, own=True)  # never leave a half-started daemon behind
        module.fail_json(msg="%s did not start: %s. Last lines of %s:\n%s" % (name, why, log, lab.tail(log)),
                         action="failed", reason=reason)
    after["pid"] = new["pid"]
    module.exit_json(changed=True, pid=new["pid"], action=action, reason=reason,
                     diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
