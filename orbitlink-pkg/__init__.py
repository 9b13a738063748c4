"""orbitlink: a software modem and packet-link stack for satellite ground stations.

The distribution installs these packages (see README.md for the architecture):

- :mod:`orbitlink.modem`: block model, DSP, FEC and the channel simulator (bottom layer)
- :mod:`orbitlink.framing`: frame formats, deframers and framers
- :mod:`orbitlink.drivers`: SigMF/raw files, SoapySDR, ZeroMQ IQ
- :mod:`orbitlink.flowgraphs`: link files, runner, bus and the ``orbitlink`` CLI (top layer)
"""

__version__ = "0.1.0"


class OrbitlinkError(Exception):
    """An error a user can cause (bad file, bad parameter, bad frame).

    The CLI prints its message as one sentence and exits with status 2.
    """
