# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every SQL store of the collection shares (the callserver's tables in ``callservers/kamailio_db.py``, the audit
history in ``audit/history.py``): the one rule for database URLs, whether psycopg (PostgreSQL) is importable, and the
crash-test pause hook."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import time

# Whether psycopg is installed, without importing it: the import costs about 80 ms, paid by every module run that
# touches a store, while only a PostgreSQL URL needs it (psycopg_module() imports it then).
try:
    HAS_PSYCOPG = importlib.util.find_spec("psycopg") is not None
except (ImportError, ValueError):  # pragma: no cover
    HAS_PSYCOPG = False
PSYCOPG_IMPORT_ERROR = None if HAS_PSYCOPG else "ImportError: No module named 'psycopg'"


def psycopg_module():
    """psycopg, imported on first use (callers check HAS_PSYCOPG first)."""
    import psycopg  # pylint: disable=import-outside-toplevel
    return psycopg


class DbUrlError(ValueError):
    """A database URL that names no supported store."""


def parse_db_url(db_url):
    """``sqlite:////abs/path.db`` or ``postgres://user:pw@host:port/db`` -> (kind, target).

    ``kind`` is ``sqlite`` (target: the absolute file path) or ``postgres`` (target: a ``postgresql://`` conninfo URL).
    Raises :class:`DbUrlError` (the message names the URL as given: mask it before showing it anywhere)."""
    if db_url.startswith("sqlite://"):
        path = db_url[len("sqlite://"):]
        while path.startswith("//"):
            path = path[1:]
        if not path.startswith("/"):
            raise DbUrlError("db_url %s: SQLite needs an absolute path, like sqlite:////var/lib/kamailio/kamailio.db" % db_url)
        return "sqlite", path
    for prefix in ("postgres://", "postgresql://"):
        if db_url.startswith(prefix):
            return "postgres", "postgresql://" + db_url[len(prefix):]
    raise DbUrlError("db_url %s: use sqlite:////abs/path.db or postgres://user:password@host:port/database" % db_url)


def test_pause(where):
    """Test hook: VOIPOPS_TEST_PAUSE_<where>=seconds stops a run there (writing its pid to VOIPOPS_TEST_PAUSE_MARKER)
    so that the crash-safety tests can kill -9 it at that exact point.  Unset in production: a no-op."""
    pause = os.environ.get("VOIPOPS_TEST_PAUSE_" + where)
    if pause:
        marker = os.environ.get("VOIPOPS_TEST_PAUSE_MARKER")
        if marker:
            with open(marker, "w") as handle:
                handle.write(str(os.getpid()))
        time.sleep(float(pause))
