"""Evaluation: benchmarks, reports and plots (`sim2real bench controller`, the demo's report)."""
