"""Helpers shared by several test suites (emulator-backed REST stores, package injection)."""
