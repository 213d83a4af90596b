#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""azl-agent's sample VM extension handler: the default scenario's extension (AzlAgent.SampleHandler).

A small handler that does what the extension contract asks of one (docs/protocol/handler-contract.md), so that
the agent, the demo and the tests run a real handler end to end without any third-party package:

  * it is started by the agent as ``sample-handler.py <install|enable|disable|update|uninstall>`` from its
    handler directory, and finds everything through the contract: HandlerEnvironment.json (log folder,
    config folder, status folder, heartbeat file), ConfigSequenceNumber and, for a multi-config instance,
    ConfigExtensionName (settings ``config/[<name>.]<seq>.settings``, status ``status/[<name>.]<seq>.status``;
    without ConfigSequenceNumber the newest settings file wins, as the contract allows);
  * enable reads the settings file, decrypts ``protectedSettings`` (base64 CMS EnvelopedData) with the tenant
    certificate the agent wrote as ``<lib dir>/<THUMBPRINT>.crt``/``.prv`` (``openssl cms -decrypt``; the lib
    dir is the parent of the handler directory), and writes its status file: ``success`` with the public
    setting ``message`` as its message (``"enabled"`` when there is none), and a substatus
    ``ProtectedSettings`` naming the certificate and the *names* of the decrypted keys — never a value;
  * every operation writes the heartbeat file (``Ready`` after enable, ``NotReady`` after disable; the
    manifest sets reportHeartbeat, so the agent reports it as the handler status) and appends one line to
    ``<logFolder>/sample-handler.log``: the operation, version, sequence number, instance, and for update
    VERSION / AZURE_GUEST_AGENT_UPDATING_FROM_VERSION;
  * bad settings (unreadable, not JSON, protected settings that do not decrypt) → status ``error`` with the
    reason, and exit 53 (the publishers' "configuration error" convention).

Python 3 standard library plus the openssl command; nothing is written outside the handler's own folders.
"""
import base64
import datetime
import json
import os
import re
import subprocess
import sys

OPERATIONS = ("install", "enable", "disable", "update", "uninstall")
EXIT_CONFIG_ERROR = 53
STATUS_MAX_MESSAGE = 1024


class HandlerError(Exception):
    """A settings problem: reported in the status file, exit 53."""


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json_atomic(path, doc, mode=0o644):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    os.replace(tmp, path)


def handler_environment(here):
    with open(os.path.join(here, "HandlerEnvironment.json"), encoding="utf-8") as handle:
        doc = json.load(handle)
    return doc[0]["name"], doc[0]["handlerEnvironment"]


def sequence_number(config_dir, instance):
    """ConfigSequenceNumber, or the newest [<instance>.]<n>.settings file's n (-1 when there is none)."""
    env = os.environ.get("ConfigSequenceNumber")
    if env is not None and re.fullmatch(r"[0-9]+", env):
        return int(env)
    pattern = re.compile(r"%s([0-9]+)\.settings" % (re.escape(instance + ".") if instance else ""))
    newest, seq = -1.0, -1
    for name in os.listdir(config_dir) if os.path.isdir(config_dir) else []:
        match = pattern.fullmatch(name)
        if match:
            mtime = os.path.getmtime(os.path.join(config_dir, name))
            if mtime > newest:
                newest, seq = mtime, int(match.group(1))
    return seq


def decrypt_protected(lib_dir, thumbprint, blob):
    """protectedSettings → the decrypted JSON object, with the tenant certificate's .crt/.prv."""
    if not isinstance(thumbprint, str) or not re.fullmatch(r"[0-9A-Fa-f]{40}", thumbprint):
        raise HandlerError("protectedSettingsCertThumbprint is missing or not a SHA-1 thumbprint")
    try:
        der = base64.b64decode(blob, validate=True)
    except (ValueError, TypeError):
        raise HandlerError("protectedSettings is not base64")
    crt = os.path.join(lib_dir, thumbprint.upper() + ".crt")
    prv = os.path.join(lib_dir, thumbprint.upper() + ".prv")
    for path in (crt, prv):
        if not os.path.exists(path):
            raise HandlerError("the tenant certificate %s is not there (%s)" % (thumbprint.upper(), path))
    proc = subprocess.run(["openssl", "cms", "-decrypt", "-inform", "DER", "-recip", crt, "-inkey", prv],
                          input=der, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[0]
        raise HandlerError("protectedSettings do not decrypt with %s: %s" % (thumbprint.upper(), first[:200]))
    try:
        value = json.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise HandlerError("the decrypted protectedSettings are not JSON")
    if not isinstance(value, dict):
        raise HandlerError("the decrypted protectedSettings are not a JSON object")
    return value


def read_settings(config_dir, lib_dir, prefix, seq):
    """The handlerSettings of [<prefix>]<seq>.settings: (public, protected keys, thumbprint) or None if absent."""
    path = os.path.join(config_dir, "%s%d.settings" % (prefix, seq))
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HandlerError("cannot read %s: %s" % (os.path.basename(path), exc.strerror))
    if not raw.strip():
        return {}, None, None           # the agent writes an empty 0.settings when there are no settings
    try:
        doc = json.loads(raw.decode("utf-8"))
        hs = doc["runtimeSettings"][0]["handlerSettings"]
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError):
        raise HandlerError("%s is not a runtimeSettings document" % os.path.basename(path))
    public = hs.get("publicSettings") or {}
    if not isinstance(public, dict):
        raise HandlerError("publicSettings is not a JSON object")
    protected, thumb = None, hs.get("protectedSettingsCertThumbprint")
    if hs.get("protectedSettings"):
        protected = decrypt_protected(lib_dir, thumb, hs["protectedSettings"])
    return public, protected, thumb


def status_document(name, operation, status, message, substatus):
    inner = {"name": name, "operation": operation, "status": status, "code": 0 if status == "success" else 1,
             "formattedMessage": {"lang": "en-US", "message": message[:STATUS_MAX_MESSAGE]}}
    if substatus:
        inner["substatus"] = substatus
    return [{"version": 1.0, "timestampUTC": now_utc(), "status": inner}]


def write_heartbeat(henv, state, message):
    doc = [{"version": 1.0, "heartbeat": {"status": state, "code": 0,
                                          "formattedMessage": {"lang": "en-US", "message": message}}}]
    write_json_atomic(henv["heartbeatFile"], doc)


def log_line(henv, text):
    os.makedirs(henv["logFolder"], exist_ok=True)
    with open(os.path.join(henv["logFolder"], "sample-handler.log"), "a", encoding="utf-8") as handle:
        handle.write("%s %s\n" % (now_utc(), text))


def enable(name, henv, lib_dir, instance, seq):
    """Settings → status file. Returns the exit code."""
    prefix = instance + "." if instance else ""
    status_path = os.path.join(henv["statusFolder"], "%s%d.status" % (prefix, seq))
    os.makedirs(henv["statusFolder"], mode=0o700, exist_ok=True)
    try:
        settings = read_settings(henv["configFolder"], lib_dir, prefix, seq)
    except HandlerError as exc:
        write_json_atomic(status_path, status_document(name, "Enable", "error", str(exc), None))
        write_heartbeat(henv, "NotReady", "settings error: %s" % exc)
        return EXIT_CONFIG_ERROR, "error: %s" % exc
    public, protected, thumb = settings if settings is not None else ({}, None, None)
    message = public.get("message") if isinstance(public.get("message"), str) else "enabled"
    if protected is None:
        sub_message = "no protected settings"
    else:
        keys = sorted(protected)
        sub_message = "decrypted with certificate %s: %d key(s): %s" % (thumb.upper(), len(keys), ", ".join(keys))
    substatus = [{"name": "ProtectedSettings", "status": "success", "code": 0,
                  "formattedMessage": {"lang": "en-US", "message": sub_message}}]
    write_json_atomic(status_path, status_document(name, "Enable", "success", message, substatus))
    write_heartbeat(henv, "Ready", "%s enabled with settings %s%d" % (name, prefix, seq))
    return 0, "success: %s; %s" % (message, sub_message)


def main(argv):
    if len(argv) != 2 or argv[1] not in OPERATIONS:
        sys.stderr.write("usage: sample-handler.py {%s}\n" % "|".join(OPERATIONS))
        return 2
    operation = argv[1]
    here = os.environ.get("AZURE_GUEST_AGENT_EXTENSION_PATH") or os.path.dirname(os.path.abspath(__file__))
    name, henv = handler_environment(here)
    lib_dir = os.path.dirname(os.path.abspath(here))
    instance = os.environ.get("ConfigExtensionName") or ""
    seq = sequence_number(henv["configFolder"], instance)
    version = os.environ.get("AZURE_GUEST_AGENT_EXTENSION_VERSION", "?")
    what = "%s %s seq %d%s" % (operation, version, seq, " instance " + instance if instance else "")
    if operation == "update":
        what += " VERSION=%s from %s" % (os.environ.get("VERSION", "?"),
                                          os.environ.get("AZURE_GUEST_AGENT_UPDATING_FROM_VERSION", "?"))

    rc, outcome = 0, "done"
    if operation == "enable":
        if seq < 0:
            rc, outcome = EXIT_CONFIG_ERROR, "error: no sequence number and no settings file"
        else:
            rc, outcome = enable(name, henv, lib_dir, instance, seq)
    elif operation == "disable":
        write_heartbeat(henv, "NotReady", "%s disabled" % name)
    elif operation != "uninstall":
        write_heartbeat(henv, "NotReady", "%s %s, not enabled yet" % (name, "installed" if operation == "install"
                                                                       else "updated"))
    log_line(henv, "%s: %s" % (what, outcome))
    print("sample-handler %s: %s" % (what, outcome))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
