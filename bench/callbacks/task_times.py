# -*- coding: utf-8 -*-
"""Per-task wall time of a bench's playbook, written as JSON to $BENCH_TASK_TIMES (the benches' profile of a playbook).

Enabled by the benches only (ANSIBLE_CALLBACK_PLUGINS=bench/callbacks, ANSIBLE_CALLBACKS_ENABLED=task_times); it adds
nothing to the job log.  A task's time runs from its start to the start of the next task (or the end of the play), so
the times add up to the play's wall time, Ansible's own work between tasks included.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type  # pylint: disable=invalid-name

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_times
type: aggregate
short_description: per-task wall time as JSON (bench profile)
description: Writes [[task name, seconds], ...] to the file named by BENCH_TASK_TIMES.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.started = time.perf_counter()
        self.times = []
        self.current = None

    def _close(self):
        now = time.perf_counter()
        if self.current is not None:
            name, since = self.current
            self.times.append([name, round(now - since, 3)])
        self.current = None
        return now

    def v2_playbook_on_task_start(self, task, is_conditional):
        now = self._close()
        if not self.times:
            self.times.append(["(Ansible start-up, play and inventory loading)", round(now - self.started, 3)])
        self.current = (task.get_name(), now)

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("BENCH_TASK_TIMES")
        if path:
            with open(path, "w") as handle:
                json.dump(self.times, handle)
