"""`sim2real doctor`: check a driver against the robot model before any policy is armed."""
