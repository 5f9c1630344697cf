"""What happens when a dialog completes: assessment, drafts, calculations.

Each action is registered by name (`on_complete` in dialogs/*.yaml names them) and gets an
ActionContext; the decisions inside are pure functions tested without I/O.
"""
