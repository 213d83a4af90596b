"""azfabric: a simulated Azure fabric (IMDS, WireServer, HostGAPlugin, blob storage).

The package is driven by ``tests/fabric/azfabric.py``.  Every protocol detail
implemented here is taken from ``docs/protocol/``
(cited as "protocol §N"); documents a scenario names verbatim come from the
repository's tests/data (or any other fixture root); the IMDS behaviour follows
the public Azure IMDS documentation (cited as "IMDS doc").

Only the Python standard library and the ``openssl`` command are used.
"""

__all__ = ["__version__"]
__version__ = "1.0.0"
