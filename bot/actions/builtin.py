"""Imports every feature module so its actions, commands and buttons register."""

from bot.actions import apr, complaints, onboard, remind, report  # noqa: F401
