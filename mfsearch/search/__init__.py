"""The search: sample candidates from a space, keep those inside the budget band, rank them by
short proxy training in an Optuna study, and write the outputs.

`mfsearch.search("150M", trials=12, ...)` runs one (`mfsearch.api.search`: the package itself is
callable, so the job and its parts share one name); `mfsearch.search.run_search` is the loop
underneath, on explicit settings; `.study` and `.outputs` are its parts."""

import sys
import types

__all__ = ["SearchEvent", "SearchInterrupted", "SearchResult", "SearchSettings", "run_search"]


def __getattr__(name: str):
    # Imported on first use, so that importing the package costs no Optuna or torch start-up.
    if name in ("SearchEvent", "SearchInterrupted", "SearchResult", "run_search"):
        from . import run
        return getattr(run, name)
    if name == "SearchSettings":
        from .study import SearchSettings
        return SearchSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from ..api import search

        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
