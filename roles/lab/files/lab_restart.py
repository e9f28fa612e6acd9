# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restart one daemon of the embedded lab the way its supervisor (lab_daemon) runs it.

    python roles/lab/files/lab_restart.py <state_dir>/run/kamailio.pid

This is the lab's ``restart_command`` for ``voipops.voip.callserver_config`` (on a real host that is
``[systemctl, restart, kamailio]``): it reads the daemon's record beside its pid file (argv, log, pid), stops the
recorded process group (SIGTERM, SIGKILL after 10 s), starts the same argv again in a new session with output to
the same log, and writes a new record.  The record's fingerprint says the daemon was restarted outside ``lab_up``,
so the next ``lab_up`` restarts it again on the configuration it renders itself.  Exit 0 once the new process runs,
1 with a message when there is no record or the new process exits at once.  Never stops anything by name.
"""
import json
import os
import signal
import subprocess
import sys
import time


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


def main(pidfile):
    record_path = pidfile + ".json"
    try:
        with open(record_path) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        sys.stderr.write("no lab daemon record at %s: %s\n" % (record_path, exc))
        return 1
    pid = record.get("pid")
    if pid and group_alive(pid):
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pid, sig)
            except OSError:
                break
            deadline = time.time() + wait
            while time.time() < deadline and group_alive(pid):
                time.sleep(0.02)
            if not group_alive(pid):
                break
    log = record.get("log") or pidfile + ".log"
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "_ANSIBLE")))
    with open(log, "ab") as out:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        out.write(("\n--- %s restart (lab_restart.py): %s\n" % (stamp, " ".join(record["argv"]))).encode())
        out.flush()
        proc = subprocess.Popen(record["argv"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, close_fds=True, start_new_session=True)
    record.update(pid=proc.pid, started=time.time(), fingerprint="restarted outside lab_up")
    with open(pidfile, "w") as handle:
        handle.write("%d\n" % proc.pid)
    tmp = record_path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(tmp, record_path)
    time.sleep(0.2)
    if proc.poll() is not None:
        sys.stderr.write("%s exited at once with %s; see %s\n" % (record["argv"][0], proc.returncode, log))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
