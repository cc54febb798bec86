"""Typed, validated configuration: scenario files, vendor profiles, units."""
