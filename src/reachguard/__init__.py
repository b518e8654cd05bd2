"""ReachGuard: a compliance gateway for loan marketing and debt-collection contacts."""

__version__ = "0.1.0"
