"""Borrower Guard: a chatbot for people harassed by online-loan debt collectors."""

__version__ = "0.2.0"
