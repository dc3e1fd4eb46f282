"""Screens of the app: one file a screen."""
