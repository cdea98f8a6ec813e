"""mfsearch: exact cost analysis and architecture search for Mobile-Former networks (and the
other registered families).

    import mfsearch
    c = mfsearch.cost("294m", resolution=256, convention="core", tokens=1)
    c.params, c.madds, c.pillars, c.to_frame()
    model = mfsearch.build_model("iformer-t")
    model = mfsearch.load_model("294m", weights="mobile-former-294m.pth.tar")
    backbone = mfsearch.load_model("151m", resolution=(800, 1333), features_only=True)
    mfsearch.check("26m").ok
    result = mfsearch.search("150M", trials=2, proxy={"steps": 5}, out="runs/demo")

Bad input raises `mfsearch.UserError` with the message the command line prints.
"""

from . import search
from .api import Cost, build_model, check, cost, load_model, load_spec, save_model
from .errors import UserError

__version__ = "0.1.0"

__all__ = ["Cost", "UserError", "__version__", "build_model", "check", "cost", "load_model",
           "load_spec", "save_model", "search"]
