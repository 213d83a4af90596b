#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
Protocol citations against docs/protocol, so that every citation leads somewhere and the repository stands on
its own:

  * every "protocol §N" citation in the tree (C, Python, shell, meson, docs; lists "§4.3, §4.4" and ranges
    "§4.5–§4.8" included) names a section that is a heading of docs/protocol/*.md ("## §4.6 …");
  * no heading number is used twice, and docs/protocol/README.md links every page;
  * no citation of the protocol notes that live outside the repository remains: "ref §N", "protocol
    reference §N", "waagent §N", "azure-wire-protocol.md", "peers-provisioning.md", "peers §N";
  * no path into ../shared (the material beside the repository) outside tests/interop/ and .ci/, the only
    places allowed to find the peer fixtures there.

The extraction is checked on known strings first, so that a broken pattern cannot make the test pass without
looking. Files: every regular file below AZL_SOURCE_ROOT that is UTF-8 text, except .git, build directories
(those holding meson-private/) and the fuzz corpora (arbitrary inputs).
"""
import os
import re
import sys

SRC = os.environ.get("AZL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SELF = os.path.relpath(os.path.abspath(__file__), SRC)
PROTOCOL_DIR = os.path.join("docs", "protocol")

SECTION = r"\d+(?:\.\d+)*"
# "protocol §4.3", then ", §4.4" / " / §2.1" / " and §4.7" / "–§4.8" / "–4.9" (a range may omit the second §).
CITATION = re.compile(r"\bprotocol\s+§\s?(" + SECTION + r")((?:\s*(?:,|/|\band\b)\s*§\s?" + SECTION
                      + r"|\s*[–-]\s*§?\s?" + SECTION + r")*)", re.I)
MORE = re.compile(SECTION)
HEADING = re.compile(r"^#{1,6}\s+§(" + SECTION + r")\b", re.M)
FORBIDDEN = [
    (re.compile(r"\bref\s+§", re.I), 'a "ref §" citation (cite "protocol §N", docs/protocol)'),
    (re.compile(r"\breference\s+§", re.I), 'a "reference §" citation (cite "protocol §N", docs/protocol)'),
    (re.compile(r"\bwaagent\s+§"), 'a "waagent §" citation (cite "protocol §N", docs/protocol)'),
    (re.compile(r"\bpeers\s+§"), 'a "peers §" citation (cite "protocol §N", docs/protocol)'),
    (re.compile(r"azure-wire-protocol\.md"), "a citation of azure-wire-protocol.md (not in the repository)"),
    (re.compile(r"peers-provisioning\.md"), "a citation of peers-provisioning.md (not in the repository)"),
]
SHARED = re.compile(r"\.\./shared\b|/work/shared\b|\bshared/(?:reference|fixtures)\b")
SHARED_ALLOWED = ("tests/interop/", ".ci/")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def cited_sections(text):
    """[(section, offset)] of every protocol citation in text."""
    out = []
    for m in CITATION.finditer(text):
        out.append((m.group(1), m.start()))
        out += [(s, m.start()) for s in MORE.findall(m.group(2))]
    return out


def self_check():
    cases = {
        "(protocol §1.2)": ["1.2"],
        "wire protocol §4.3, §4.4, §4.7, §4.8:": ["4.3", "4.4", "4.7", "4.8"],
        "(protocol §4.5–§4.8)": ["4.5", "4.8"],
        "protocol §4.7–4.9 (waagent)": ["4.7", "4.9"],
        "(protocol §1.4 / §2.1)": ["1.4", "2.1"],
        "protocol §1.2: 500 is retried along 2, 3, 5": ["1.2"],
        "Protocol §0 and §99.1": ["0", "99.1"],
        '(cited as "protocol §N")': [],
    }
    for text, expected in cases.items():
        got = [s for s, _ in cited_sections(text)]
        if got != expected:
            fail("self-check: %r gives %r, expected %r" % (text, got, expected))
    if not FORBIDDEN[0][0].search("see ref §1.2") or not SHARED.search("../shared/fixtures/x"):
        fail("self-check: the forbidden patterns do not match")


def text_files():
    for root, dirs, files in os.walk(SRC):
        rel_root = os.path.relpath(root, SRC)
        dirs[:] = sorted(d for d in dirs if d != ".git" and not os.path.exists(os.path.join(root, d, "meson-private"))
                         and os.path.join(rel_root, d) != os.path.join("tests", "fuzz", "corpus"))
        for name in sorted(files):
            path = os.path.join(root, name)
            if not os.path.isfile(path) or os.path.islink(path) or os.path.getsize(path) > 4 * 1024 * 1024:
                continue
            try:
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, SRC), f.read()
            except (UnicodeDecodeError, OSError):
                continue


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def main():
    self_check()

    sections = {}
    pages = []
    for name in sorted(os.listdir(os.path.join(SRC, PROTOCOL_DIR))):
        if not name.endswith(".md"):
            continue
        pages.append(name)
        with open(os.path.join(SRC, PROTOCOL_DIR, name), encoding="utf-8") as f:
            for number in HEADING.findall(f.read()):
                if number in sections and sections[number] != name:
                    fail("§%s is a heading in both %s and %s" % (number, sections[number], name))
                elif number in sections:
                    fail("§%s is a heading twice in %s" % (number, name))
                sections[number] = name
    with open(os.path.join(SRC, PROTOCOL_DIR, "README.md"), encoding="utf-8") as f:
        index = f.read()
    for name in pages:
        if name != "README.md" and "(%s)" % name not in index:
            fail("docs/protocol/README.md does not link %s" % name)
    if len(sections) < 40:
        fail("only %d section headings found in docs/protocol" % len(sections))

    citations = 0
    for rel, text in text_files():
        if rel == SELF:
            continue
        for number, offset in cited_sections(text):
            citations += 1
            if number not in sections:
                fail("%s:%d: protocol §%s is not a section of docs/protocol" % (rel, line_of(text, offset), number))
        for pattern, what in FORBIDDEN:
            for m in pattern.finditer(text):
                fail("%s:%d: %s" % (rel, line_of(text, m.start()), what))
        if not rel.startswith(SHARED_ALLOWED):
            for m in SHARED.finditer(text):
                fail("%s:%d: a path into ../shared (%s); only tests/interop/ and .ci/ may look there"
                     % (rel, line_of(text, m.start()), m.group(0)))
    if citations < 100:
        fail("only %d protocol citations found: the scan is broken" % citations)

    print("%d protocol citations checked against %d sections in %d pages; %d problem(s)"
          % (citations, len(sections), len(pages), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
