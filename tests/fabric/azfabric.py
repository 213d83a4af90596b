#!/usr/bin/env python3
"""Simulated Azure fabric: IMDS, WireServer, HostGAPlugin, blob storage.

Usage (see tests/fabric/README.md):

    python3 tests/fabric/azfabric.py serve --scenario default [--real-addresses] [--ready-file F]
    python3 tests/fabric/azfabric.py media --scenario default --out DIR
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fabriclib.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
