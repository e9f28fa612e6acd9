# -*- coding: utf-8 -*-
# Copyright: voipops.voip contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files and text that leave the collection: one atomic writer, one way to mask a secret in a URL.

``atomic_write`` is the only way the collection writes a file a reader may see half-written (provisioning
files, reports, credentials, release records): a temporary file in the same directory, created with its final
mode (never readable by others in between), flushed and fsync'ed, then renamed over the target.
``mask_url`` is the only way a URL that may hold a password or a secret path reaches a message or a summary;
``mask_urls_in_text`` does the same for the URLs inside a text (a configuration file, a diff); both mask the
password of a URL by the one rule, ``mask_userinfo``.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import tempfile

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 controllers are not supported, but sanity imports this file
    from urlparse import urlsplit, urlunsplit  # type: ignore


def atomic_write(path, data, mode=0o640, gid=None, makedirs=True, fsync=True):
    """Write ``data`` (bytes or text, text as UTF-8) to ``path`` atomically with permissions ``mode``.

    A reader sees either the old file or the whole new one; a crash leaves at worst a ``.tmp-*`` file beside it,
    never a truncated target.  ``gid`` sets the group (for a web server that must read a 0640 file).
    """
    if not isinstance(data, bytes):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    if makedirs and not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.fchmod(fd, mode)
        if gid is not None:
            os.fchown(fd, -1, gid)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_SECRET_QUERY = re.compile(r"(?i)((?:pass(?:word)?|pwd|secret|token|key|auth|sig(?:nature)?)=)[^&;]*")


# A URL inside text: its scheme, then its userinfo - everything up to the last ``@`` before the URL's path, query,
# fragment, white space or a quote ends it (what urlsplit() takes as the netloc's userinfo).
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#\"'<>]*)@")


def mask_userinfo(userinfo):
    """The one rule for the userinfo of a URL (``user:password``, the part before ``@``): the password - everything
    after the first colon - becomes ``********``, the user name stays; userinfo without a colon has no password."""
    user, colon, _password = userinfo.partition(":")
    return user + colon + ("********" if colon else "")


def mask_urls_in_text(text):
    """``text`` (a configuration file, a diff) with the password of every ``scheme://user:password@host`` URL in it
    masked by :func:`mask_userinfo` - the rest of the text is left as it is."""
    if not isinstance(text, str) or "://" not in text:
        return text
    return _URL_USERINFO.sub(lambda m: m.group(1) + mask_userinfo(m.group(2)) + "@", text)


def mask_url(url):
    """``url`` with its password, secret query values and path replaced by ``********`` where they may be secret.

    ``postgresql://voip:s3cret@db/kam`` -> ``postgresql://voip:********@db/kam``; a webhook path
    (``https://hooks.example/services/T0/B0/XYZ``) keeps only its first segment, since such paths are the secret.
    A file path (``sqlite:////var/lib/kamailio.db``) is kept.
    Anything that is not a URL comes back unchanged.
    """
    if not isinstance(url, str) or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            netloc = "%s@%s" % (mask_userinfo(userinfo), host)
        path = parts.path
        segments = [s for s in path.split("/") if s]
        if len(segments) > 1 and parts.scheme.lower() in ("http", "https"):
            path = "/%s/********" % segments[0]
        query = _SECRET_QUERY.sub(lambda m: m.group(1) + "********", parts.query)
        if (netloc, path, query) == (parts.netloc, parts.path, parts.query):
            return url
        return urlunsplit((parts.scheme, netloc, path, query, ""))
    except ValueError:  # urlsplit() refuses it (an unclosed "[" in the host): its userinfo is masked all the same
        scheme, rest = url.split("://", 1)
        netloc = re.split(r"[/?#]", rest, 1)[0]
        if "@" not in netloc:
            return url
        userinfo = netloc.rsplit("@", 1)[0]
        return "%s://%s%s" % (scheme, mask_userinfo(userinfo), rest[len(userinfo):])
