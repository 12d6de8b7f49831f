"""Managely: the control plane for selling and running ERP systems as a service."""

__version__ = "0.1.0"
