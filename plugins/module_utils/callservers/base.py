# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The callserver driver interface.

One driver per platform family (``kamailio.py`` + ``kamailio_db.py`` today; Asterisk or CUCM AXL
later).  Everything above a driver (the ``callserver_users`` module, roles) works on the canonical
user records and operation plans of ``module_utils/users.py`` and never on a platform's tables.

A driver for user mutations implements:

``read_users()``
    All users in ONE consistent read -> ``UserSnapshot`` (managed users in canonical form,
    numbers held by subscribers that are not managed, numbers in cooling, HR row keys already
    applied, AoRs whose registrations still have to be flushed).
``apply(plan, run)``
    Apply a whole plan (list of operations) in ONE transaction: all of it or nothing.  Records
    the audit journal, cooling numbers, applied HR rows and pending registration flushes in the
    same transaction.  Returns ``ApplyResult`` (credentials of joiners/movers, journal rows).
``flush_registrations(aors)``
    Drop live registrations (leavers, movers) -> list of AoRs that had contacts.
``lock(run)`` / ``unlock(run)``
    A run lock on the callserver itself, so two runs (two AWX nodes) never apply at once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DriverError(Exception):
    """A callserver operation failed; the message says what, where and what to do."""


class LockedError(DriverError):
    """Another run holds the callserver's run lock."""


class UserSnapshot(object):
    """Result of ``read_users``."""

    def __init__(self, users=None, unmanaged=None, cooling=None, applied_keys=None, pending_flush=None):
        self.users = users or []                  # canonical user dicts (managed)
        self.unmanaged = unmanaged or []          # numbers of subscribers without an employee id
        self.cooling = cooling or {}              # number -> {"until", "employee_id"}
        self.applied_keys = set(applied_keys or ())
        self.pending_flush = pending_flush or []  # AoRs still to flush


class ApplyResult(object):
    def __init__(self, credentials=None, journal=None, flush=None):
        self.credentials = credentials or []      # [{"id", "username", "domain", "password"}] (secret!)
        self.journal = journal or []              # audit rows written in the transaction (as inserted)
        self.flush = flush or []                  # AoRs to flush after commit
        self.flushed = []                         # AoRs whose live contacts were dropped


class RunInfo(object):
    """Who runs what: carried into the lock and every audit record."""

    def __init__(self, run_id, actor, host=None, pid=None, applied_keys=(), now=None, cooling_days=90, source=None):
        self.run_id = run_id
        self.actor = actor
        self.host = host
        self.pid = pid
        self.applied_keys = list(applied_keys)
        self.now = now
        self.cooling_days = cooling_days
        self.source = source


class CallserverUsersDriver(object):
    """Interface every callserver driver that manages users implements."""

    platform = None

    def read_users(self):
        raise NotImplementedError

    def apply(self, plan, run):
        raise NotImplementedError

    def flush_registrations(self, aors):
        raise NotImplementedError

    def lock(self, run, ttl=3600):
        raise NotImplementedError

    def unlock(self, run):
        raise NotImplementedError

    def close(self):
        pass
