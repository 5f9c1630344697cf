"""Guided dialogs: dialogs/*.yaml state machines and the runner that walks them."""
