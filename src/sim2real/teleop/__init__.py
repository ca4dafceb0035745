

def config_path(robot):
    """The robot's teleop config: teleop/<name>.yaml beside its robots/<name>.yaml (config/teleop/ in
    the repository, <dir>/teleop/ in a SIM2REAL_ROBOT_PATH directory), else config/teleop/default.yaml."""
    from sim2real import paths
    own = robot.config_path.parent.parent / "teleop" / f"{robot.name}.yaml"
    return own if own.is_file() else paths.resolve("config/teleop/default.yaml")
