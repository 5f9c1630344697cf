"""Thin adapters: platform messages -> Inbound, Reply -> platform messages."""
