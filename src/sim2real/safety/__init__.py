"""Safety below sim/ and control/: the filter and its hold, stamp freshness, the teleop lock."""
