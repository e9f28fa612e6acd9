# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The callserver driver interface, its factory and the callserver connection options.

One driver per platform family (``kamailio.py``, with ``kamailio_db.py`` as its storage layer, today; Asterisk or
CUCM AXL later).  Everything above a driver (modules, the ``registrations`` inventory plugin, ``resource.py``) gets
it from :func:`get_driver` - keyed by the ``platform`` option - and works on plain records (registrations, gateways)
and on the canonical user records and operation plans of ``module_utils/users.py``, never on a platform's tables.

A driver is built from the connection options (:data:`CALLSERVER_ARGSPEC`, doc fragment ``voipops.voip.callserver``)
and implements :class:`CallserverDriver`:

live state
    ``info(gather)``, ``registrations()``, ``dispatcher()``, ``unregister(aor)``,
    (with ``statistics`` gathered, ``info`` also returns ``counters``: the normalised counters of
    ``audit/kpi.py`` - registrations accepted/rejected and calls per gateway group by final answer),
    ``set_gateway_state(setid, uri, state)`` (drain a gateway and return it to service).
configuration releases
    ``sip_uri_of_config(text)``, ``check_config(text, live_path)``, ``trial_start(text, live_path)``,
    ``health(sip_uri)`` - the platform's checks of a candidate configuration and of the live instance
    (``release/config.py`` orchestrates them).
user mutations
    ``read_users(now)`` - all users in ONE consistent read -> ``UserSnapshot`` (managed users in canonical form,
    numbers held by subscribers that are not managed, numbers in cooling, HR row keys already applied, AoRs whose
    registrations still have to be flushed).
    ``apply(plan, run)`` - a whole plan (list of operations) in ONE transaction: all of it or nothing, with the audit
    journal, cooling numbers, applied HR rows and pending registration flushes in the same transaction ->
    ``ApplyResult`` (credentials of joiners/movers, journal rows).
    ``flush_registrations(aors)`` - drop live registrations (leavers, movers) -> AoRs that had contacts.
    ``lock(run, ttl)`` / ``unlock(run)`` - a run lock on the callserver itself, so two runs (two AWX nodes) never
    apply at once.  ``journal_rows()`` - the audit rows the callserver holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.parameters import env_fallback

from ansible_collections.voipops.voip.plugins.module_utils.fileio import mask_url


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

    @property
    def items(self):
        """The managed objects (what ``resource.ResourceModule`` reads as ``before``)."""
        return self.users


def credential(user, username, domain, password):
    """The record of a generated SIP password (secret!): what ``handset_provision`` reads as a user
    (``extension``, ``display_name``, ``sip_password``, ``username``), plus the employee ``id`` and ``domain``;
    ``password`` repeats ``sip_password`` for readers of the first credentials files."""
    return {"id": user["id"], "extension": user["extension"], "display_name": user.get("name") or user["extension"],
            "username": username, "domain": domain, "sip_password": password, "password": password}


class ApplyResult(object):
    def __init__(self, credentials=None, journal=None, flush=None):
        self.credentials = credentials or []      # [credential(...)] (secret!)
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


class CallserverDriver(object):
    """Interface every callserver driver implements; a driver is built by :func:`get_driver` only."""

    platform = None

    def __init__(self, rpc_url=None, db_url=None, domain=None, timeout=5.0, validate_certs=True, read_only=False):
        self.rpc_url = rpc_url
        self.db_url = db_url
        self.domain = domain
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.read_only = read_only

    # ---- live state
    def info(self, gather):
        raise NotImplementedError

    def registrations(self):
        raise NotImplementedError

    def dispatcher(self):
        raise NotImplementedError

    def unregister(self, aor):
        raise NotImplementedError

    def active_calls(self):
        """The calls in progress, as the callserver sees them: ``[{call_id, state, start, caller: {aor, contact},
        callee: {aor, contact}}]``; ``state`` is ``early`` (set up, not answered) or ``confirmed`` (answered),
        ``contact`` the party's Contact URI (its registered device).  Raises DriverError when the callserver does
        not track calls."""
        raise NotImplementedError

    # ---- user mutations
    def read_users(self, now=None):
        raise NotImplementedError

    def apply(self, plan, run, before_commit=None):
        """Apply ``plan`` in one transaction; ``before_commit(credentials)`` is called inside it, before COMMIT, with
        the generated passwords (an exception there rolls everything back).  Returns an ApplyResult."""
        raise NotImplementedError

    def can_flush(self):
        """True when this driver can drop live registrations (it has its management API)."""
        return False

    def flush_registrations(self, aors):
        raise NotImplementedError

    def lock(self, run, ttl=3600):
        raise NotImplementedError

    def unlock(self, run):
        raise NotImplementedError

    def journal_rows(self):
        return []

    def set_gateway_state(self, setid, uri, state):
        """Set a gateway's routing state in the callserver: ``active`` (probed), ``inactive`` or ``disabled``
        (drained: no new calls, not probed).  Raises DriverError."""
        raise NotImplementedError

    # ---- configuration releases (module callserver_config, release/config.py)
    def sip_uri_of_config(self, text):
        """The SIP URI a configuration ``text`` listens on (for the OPTIONS checks), or None."""
        raise NotImplementedError

    def check_config(self, text, live_path, binary=None):
        """The platform's own syntax check of a candidate configuration; raises DriverError naming file:line."""
        raise NotImplementedError

    def trial_start(self, text, live_path, binary=None, timeout=15.0):
        """Start the candidate on spare loopback ports with a private runtime dir beside the live instance and wait
        until it answers (management API and SIP OPTIONS); raises DriverError with the platform's errors."""
        raise NotImplementedError

    def health(self, sip_uri, timeout=2.0, rpc=True):
        """``{"rpc": bool, "options": bool, "registrations": int or None, "errors": [...]}`` of the live instance
        (``rpc=False``: the OPTIONS answer only)."""
        raise NotImplementedError

    def describe(self):
        """Where this driver's users live, for messages and audit records (never a secret)."""
        return mask_url(self.db_url or self.rpc_url or self.platform)

    def close(self):
        pass


def driver_classes():
    """platform -> driver class.  A new platform is one file in callservers/ and one line here."""
    from ansible_collections.voipops.voip.plugins.module_utils.callservers import kamailio
    return {"kamailio": kamailio.KamailioDriver}


PLATFORMS = ("kamailio",)
DEFAULT_PLATFORM = "kamailio"


def get_driver(platform=None, **conn):
    """The driver of ``platform`` built from the connection options ``conn`` (the keys of CALLSERVER_ARGSPEC and
    ``read_only``); the only way modules and plugins get a callserver driver.  An unknown platform raises DriverError
    naming the known ones."""
    drivers = driver_classes()
    name = platform or DEFAULT_PLATFORM
    if name not in drivers:
        raise DriverError("unknown callserver platform '%s': known platforms are %s" % (name, ", ".join(sorted(drivers))))
    conn = dict((k, v) for k, v in conn.items() if k in CONNECTION_KEYS or k == "read_only")
    return drivers[name](**conn)


def connection(params):
    """The connection options out of a module's params (for ``get_driver(**connection(module.params))``)."""
    return dict((k, params.get(k)) for k in ("platform",) + CONNECTION_KEYS if params.get(k) is not None)


# The callserver connection options (doc fragment voipops.voip.callserver), shared by every module of the action
# group voipops.voip.callserver; the environment variables let an AWX credential inject them.
CALLSERVER_ARGSPEC = dict(
    platform=dict(type="str", default=DEFAULT_PLATFORM,
                  fallback=(env_fallback, ["VOIPOPS_CALLSERVER_PLATFORM"])),
    rpc_url=dict(type="str", no_log=False, fallback=(env_fallback, ["VOIPOPS_CALLSERVER_RPC_URL"])),
    db_url=dict(type="str", no_log=True, fallback=(env_fallback, ["VOIPOPS_CALLSERVER_DB_URL"])),
    domain=dict(type="str", fallback=(env_fallback, ["VOIPOPS_CALLSERVER_DOMAIN"])),
    timeout=dict(type="float", default=5.0, aliases=["rpc_timeout"]),
    validate_certs=dict(type="bool", default=True),
)
CONNECTION_KEYS = ("rpc_url", "db_url", "domain", "timeout", "validate_certs")


def callserver_argspec(required=(), **overrides):
    """A copy of CALLSERVER_ARGSPEC with ``required`` options marked required and per-option ``overrides``."""
    spec = dict((k, dict(v)) for k, v in CALLSERVER_ARGSPEC.items())
    for name in required:
        spec[name]["required"] = True
    for name, extra in overrides.items():
        spec[name].update(extra)
    return spec
