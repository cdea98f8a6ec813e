"""Architecture search: sample candidates from a space, keep those inside the budget band
(`band`), rank them by short proxy training in an Optuna study (`storage`, `trial`, `workers`),
confirm the finalists (`confirm`) and write the outputs (`outputs`). `run.run_search` is the
loop on explicit `settings.SearchSettings`; `mfsearch.search(...)` (`mfsearch.jobs`) builds
them from a user's inputs and runs it."""

__all__ = ["SearchEvent", "SearchInterrupted", "SearchResult", "SearchSettings", "run_search"]


def __getattr__(name: str):
    # Imported on first use, so that importing the package costs no Optuna or torch start-up.
    if name in ("SearchEvent", "SearchInterrupted", "SearchResult", "run_search"):
        from . import run
        return getattr(run, name)
    if name == "SearchSettings":
        from .settings import SearchSettings
        return SearchSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
