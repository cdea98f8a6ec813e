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
    record = mfsearch.proxy_fidelity(archs=8, report="fidelity.md")
    timed = mfsearch.measure_latency("151m", threads=1)
    history = mfsearch.train("151m", "~/data/cifar10", epochs=5, resolution=32, out="runs/t")
    learned = mfsearch.variants_learn(family="all", data="~/data/cifar10", out="runs/learn")

Every call is a job of `mfsearch.jobs`, the functions the command line runs, with the same
inputs and defaults. Bad input raises `mfsearch.UserError` with the message the command line
prints.
"""

from .errors import UserError
from .jobs import (Cost, ablate, build_model, check, cost, load_model, load_spec,
                   measure_latency, proxy_fidelity, save_model, search, train, variants_learn,
                   verify)

__version__ = "0.1.0"

__all__ = ["Cost", "UserError", "__version__", "ablate", "build_model", "check", "cost", "load_model",
           "load_spec", "measure_latency", "proxy_fidelity", "save_model", "search", "train",
           "variants_learn", "verify"]
