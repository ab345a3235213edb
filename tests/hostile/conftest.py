"""The hostile suite (issue 12): attacks on h3gate from clients of our own
(tests/tools/h3raw.c) with a good client beside them, assertions on bounds and
outcomes.  It shares the integration suite's fixtures (servers on loopback,
certificates, pycurl), loaded from there under another module name."""
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_integration = os.path.join(_here, "..", "integration")
sys.path.insert(0, _integration)  # h3client, udprelay
_spec = importlib.util.spec_from_file_location("integration_conftest",
                                               os.path.join(_integration, "conftest.py"))
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
globals().update({k: v for k, v in vars(_mod).items() if not k.startswith("_")})
