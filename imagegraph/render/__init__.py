"""Renderers: turn computed results into text for people and other tools; they never compute."""
