"""mfsearch: exact cost analysis and architecture search for Mobile-Former networks."""

__version__ = "0.1.0"
