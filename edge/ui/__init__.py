"""Textual terminal UI for the live label stream (``crossglg-edge ui`` / ``crossglg-edge run``).

Entry point: :func:`edge.ui.app.run_ui`. Imported lazily by the commands so the CLI stays fast.
"""
