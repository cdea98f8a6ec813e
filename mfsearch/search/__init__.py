"""The search: sample candidates from a space, keep those inside the budget band, rank them by
short proxy training in an Optuna study, and write the outputs. `run_search` is the whole job;
`mfsearch.search.study` and `.outputs` are its parts."""

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
