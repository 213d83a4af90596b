"""Small helpers shared by the fabric services."""

import base64
import datetime
import hashlib
import json
import os
import tempfile
import uuid
from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _quoteattr

# .NET ticks (100 ns) between 0001-01-01 and the Unix epoch; used for
# InVMGoalStateMetaData@createdOnTicks and vmSettings'
# extensionsLastModifiedTickCount (protocol §3.1, §3.2).
_TICKS_AT_EPOCH = 621355968000000000


def dotnet_ticks(ts=None):
    """Return the .NET tick count for a Unix timestamp (default: now)."""
    if ts is None:
        ts = datetime.datetime.now(datetime.timezone.utc).timestamp()
    return _TICKS_AT_EPOCH + int(ts * 10_000_000)


def utc_iso(ts=None, millis=True):
    """ISO-8601 UTC timestamp, e.g. 2026-01-01T00:00:00.123Z."""
    dt = (datetime.datetime.now(datetime.timezone.utc) if ts is None
          else datetime.datetime.fromtimestamp(ts, datetime.timezone.utc))
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc1123(ts=None):
    """HTTP date (used by the blob store's Last-Modified)."""
    dt = (datetime.datetime.now(datetime.timezone.utc) if ts is None
          else datetime.datetime.fromtimestamp(ts, datetime.timezone.utc))
    return dt.strftime("%a, %d %b %Y %H:%M:%S GMT")


def xml_text(value):
    """Escape text content for XML (&, <, >)."""
    return _xml_escape("" if value is None else str(value))


def xml_attr(value):
    """Quote an attribute value (including the surrounding quotes)."""
    return _quoteattr("" if value is None else str(value))


def stable_uuid(*parts):
    """Deterministic UUID derived from the given parts (uuid5)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "azfabric:" + ":".join(str(p) for p in parts)))


def sha256_hex(data):
    return hashlib.sha256(data or b"").hexdigest()


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def json_compact(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=False)


def atomic_write(path, data, mode=0o644):
    """Write *data* (bytes or str) to *path* atomically (rename)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def wrap64(text, width=64):
    """Line-wrap base64 text the way the Certificates fixture is wrapped."""
    return "\n".join(text[i:i + width] for i in range(0, len(text), width))


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch; returns a new object."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def bool_str(value):
    """IMDS renders booleans as the strings "true"/"false" (IMDS doc)."""
    return "true" if value else "false"
