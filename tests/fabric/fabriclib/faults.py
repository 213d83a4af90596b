"""Fault injection rules.

A rule selects requests (endpoint, method, path, query subset) and, for the
matching requests it is armed for (``nth`` ordinals, or ``after``/``count``, or
every matching request), replaces the normal answer by a fault:

=============  ===============================================================
action         effect
=============  ===============================================================
status         answer ``status`` (default 500) with ``body``/``bodyFixture``
reset          close the TCP connection with RST, no answer
close          close the TCP connection cleanly (FIN), no answer
truncate       send the real headers (full Content-Length, at least
               ``truncateAt`` + 1) but only ``truncateAt`` bytes of the body
               (default half), then close
garbage        replace the body by ``garbageBytes`` random bytes (default
               same length as the real body)
oversized      stream ``oversizedBytes`` bytes (default 100 MiB) as the body
drip           send the real response at ``bytesPerSecond`` (default 16)
hang           never answer (hold the connection until ``hangSeconds`` or
               fabric shutdown)
delay          only delay (``delayMs``) then answer normally
=============  ===============================================================

``delayMs`` can be combined with any action.  If ``action`` is omitted it is
``status`` when ``status`` is given, else ``delay`` when ``delayMs`` is given.
Ordinals count the requests that match the rule's selectors, starting at 1
when the rule is installed.
"""

import re
import threading

ENDPOINTS = ("imds", "wireserver", "hgap", "blob", "any")
ACTIONS = ("status", "reset", "close", "truncate", "garbage", "oversized", "drip", "hang", "delay")
RULE_KEYS = {"id", "endpoint", "method", "path", "pathPrefix", "pathRegex", "query", "nth", "after",
             "count", "action", "status", "body", "bodyFixture", "headers", "contentType", "delayMs",
             "truncateAt", "garbageBytes", "oversizedBytes", "bytesPerSecond", "hangSeconds", "comment"}


class FaultError(ValueError):
    pass


class FaultRule:
    def __init__(self, spec, index, resolve_fixture=None):
        if not isinstance(spec, dict):
            raise FaultError("fault #%d must be an object" % index)
        unknown = set(spec) - RULE_KEYS
        if unknown:
            raise FaultError("fault #%d: unknown key(s) %s; known: %s"
                             % (index, ", ".join(sorted(unknown)), ", ".join(sorted(RULE_KEYS))))
        self.spec = dict(spec)
        self.id = str(spec.get("id", "fault-%d" % index))
        self.endpoint = spec.get("endpoint", "any")
        if self.endpoint not in ENDPOINTS:
            raise FaultError("fault %s: endpoint must be one of %s" % (self.id, ", ".join(ENDPOINTS)))
        self.method = spec.get("method")
        self.path = spec.get("path")
        self.path_prefix = spec.get("pathPrefix")
        self.path_regex = re.compile(spec["pathRegex"]) if spec.get("pathRegex") else None
        self.query = spec.get("query") or {}
        if not isinstance(self.query, dict):
            raise FaultError("fault %s: query must be an object of name -> value" % self.id)
        nth = spec.get("nth")
        if nth is not None:
            if isinstance(nth, int):
                nth = [nth]
            if not isinstance(nth, list) or not all(isinstance(n, int) and n >= 1 for n in nth):
                raise FaultError("fault %s: nth must be a list of ordinals >= 1" % self.id)
        self.nth = set(nth) if nth is not None else None
        self.after = int(spec.get("after", 0))
        self.count = spec.get("count")
        action = spec.get("action")
        if action is None:
            action = "status" if "status" in spec else ("delay" if "delayMs" in spec else None)
        if action not in ACTIONS:
            raise FaultError("fault %s: action must be one of %s" % (self.id, ", ".join(ACTIONS)))
        self.action = action
        self.status = int(spec.get("status", 500))
        self.delay = float(spec.get("delayMs", 0)) / 1000.0
        self.body = spec.get("body")
        if spec.get("bodyFixture"):
            if resolve_fixture is None:
                raise FaultError("fault %s: bodyFixture needs a scenario" % self.id)
            with open(resolve_fixture(spec["bodyFixture"], "faults[%s].bodyFixture" % self.id), "rb") as handle:
                self.body = handle.read()
        self.headers = spec.get("headers") or {}
        self.content_type = spec.get("contentType")
        self.truncate_at = spec.get("truncateAt")
        self.garbage_bytes = spec.get("garbageBytes")
        self.oversized_bytes = int(spec.get("oversizedBytes", 100 * 1024 * 1024))
        self.bytes_per_second = max(1, int(spec.get("bytesPerSecond", 16)))
        self.hang_seconds = float(spec.get("hangSeconds", 3600))
        self.seen = 0
        self.fired = 0

    def selects(self, endpoint, method, path, query):
        if self.endpoint != "any" and self.endpoint != endpoint:
            return False
        if self.method and self.method.upper() != method:
            return False
        if self.path is not None and self.path.rstrip("/") != path.rstrip("/"):
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        if self.path_regex and not self.path_regex.search(path):
            return False
        for key, value in self.query.items():
            if query.get(key, [None])[0] != str(value):
                return False
        return True

    def armed_for(self, ordinal):
        if self.nth is not None:
            return ordinal in self.nth
        if ordinal <= self.after:
            return False
        if self.count is not None and ordinal > self.after + int(self.count):
            return False
        return True

    def describe(self):
        return dict(self.spec, id=self.id, action=self.action, seen=self.seen, fired=self.fired)


class FaultTable:
    """Thread-safe list of rules; the first armed matching rule wins."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._next = 1

    def set(self, specs, resolve_fixture=None, append=False):
        rules = []
        for spec in specs:
            rules.append(FaultRule(spec, self._next + len(rules), resolve_fixture))
        with self._lock:
            self._next += len(rules)
            self._rules = (self._rules + rules) if append else rules
        return [r.describe() for r in rules]

    def clear(self):
        with self._lock:
            self._rules = []

    def match(self, endpoint, method, path, query):
        """Count the request against every selecting rule; return the fault to apply."""
        chosen = None
        with self._lock:
            for rule in self._rules:
                if not rule.selects(endpoint, method, path, query):
                    continue
                rule.seen += 1
                if chosen is None and rule.armed_for(rule.seen):
                    rule.fired += 1
                    chosen = rule
        return chosen

    def describe(self):
        with self._lock:
            return [r.describe() for r in self._rules]
