"""Latency lookup tables: block enumeration, resumable profiling, calibration, validation and prediction."""
