"""Hardware configs load and are checked against the robot; the command gate keeps the twin
driver's rules (refusals, clipping, deadline and saturation holds) at the vendor boundary."""
import numpy as np
import pytest
import yaml

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.graph import NODE_KINDS
from sim2real.hardware import VENDORS, adapter_class, hardware_node, load_hardware
from sim2real.hardware.base import HOLD_DEADLINE, HOLD_SATURATED, CommandGate
from sim2real.robots import ROBOTS, load_robot
from sim2real.safety.filter import SafetyFilter


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_every_robot_has_a_hardware_config_its_core_and_node_accept(name):
    robot = load_robot(name)
    hw = load_hardware(robot)
    assert hw.vendor in VENDORS and hardware_node(robot) in NODE_KINDS
    assert NODE_KINDS[hw.node].startswith("sim2real.ros.nodes.hw_")
    core = adapter_class(hw.vendor)(robot, hw, gravity=lambda q: 0 * q) if hw.vendor == "kinova_jaco2" else \
        adapter_class(hw.vendor)(robot, hw)
    assert core.n == robot.n and core.gate.timeout == hw.command_timeout_s


def _write(tmp_path, robot_name, **changes):
    raw = yaml.safe_load(paths.resolve(f"config/hardware/{robot_name}.yaml").read_text())
    for k, v in changes.items():
        if v is None:
            raw.pop(k)
        else:
            raw[k] = v
    p = tmp_path / "hw.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_config_errors_name_the_key(tmp_path):
    jaco = load_robot("jaco")
    raw = yaml.safe_load(paths.resolve("config/hardware/jaco.yaml").read_text())
    j = dict(raw["joints"])
    j.pop("joint_3")
    with pytest.raises(ConfigError, match="joints.*missing joint_3"):
        load_hardware(jaco, _write(tmp_path, "jaco", joints=j))
    j = dict(raw["joints"], joint_3={"vendor": "x", "sign": 2})
    with pytest.raises(ConfigError, match=r"joints.joint_3.sign"):
        load_hardware(jaco, _write(tmp_path, "jaco", joints=j))
    with pytest.raises(ConfigError, match="grippers.thumb"):
        load_hardware(jaco, _write(tmp_path, "jaco", grippers={"thumb": "x"}))
    with pytest.raises(ConfigError, match="command_timeout_s.*shorter than one vendor period"):
        load_hardware(jaco, _write(tmp_path, "jaco", command_timeout_s=0.001))
    with pytest.raises(ConfigError, match="robot: 'nao' is not 'jaco'"):
        load_hardware(jaco, paths.resolve("config/hardware/nao.yaml"))
    with pytest.raises(ConfigError, match="no hardware config"):
        load_hardware(jaco, tmp_path / "none.yaml")


def test_gate_refuses_bad_commands_without_changing_what_the_motors_get():
    jaco = load_robot("jaco")
    g = CommandGate(jaco, timeout_s=0.05, period_s=0.01)
    assert g.due(0.0, jaco.home, np.zeros(7)) == (None, None)     # before any command: the vendor's own mode
    assert g.accept(np.full(7, 1.0), 0.0) is None
    assert "7" in g.accept(np.ones(6), 0.001) and "NaN" in g.accept([1, 2, np.nan, 4, 5, 6, 7], 0.002)
    cmd, hold = g.due(0.003, jaco.home, np.zeros(7))
    assert hold is None and np.array_equal(cmd, np.ones(7)) and g.refused == 2
    g.accept(np.full(7, 1e3), 0.01)                 # clipped to the effort limits, the driver's last line
    assert np.array_equal(g.last, jaco.effort_limit) and g.clipped == 1


def test_gate_holds_after_the_deadline_and_after_a_saturated_period():
    jaco = load_robot("jaco")
    g = CommandGate(jaco, timeout_s=0.05, period_s=0.01)
    q, qd = jaco.home + 0.01, np.full(7, 0.2)
    g.accept(np.full(7, 0.5), 0.0)
    assert g.due(0.049, q, qd)[1] is None            # fresh (repeated) until the deadline
    cmd, hold = g.due(0.051, q, qd)
    ref = SafetyFilter(jaco)
    assert hold == HOLD_DEADLINE and np.allclose(cmd, ref.hold(q, qd))   # damped PD on the latched pose
    cmd2, _ = g.due(0.06, q + 0.1, qd)                                    # latched: the pose the hold began at
    assert np.allclose(cmd2, ref.hold(q + 0.1, qd))
    g.accept(np.full(7, 0.5), 0.07)
    assert g.due(0.071, q, qd)[1] is None and g.holding is None and g.holds == 1
    sat = np.full(7, 0.5)
    sat[0] = jaco.effort_limit[0]
    g.accept(sat, 0.1)
    assert g.due(0.105, q, qd)[1] is None            # within its period
    assert g.due(0.11, q, qd)[1] == HOLD_SATURATED   # a saturated torque is never reapplied past it


def test_gate_of_a_position_robot_holds_the_last_target():
    nao = load_robot("nao")
    g = CommandGate(nao, timeout_s=0.2, period_s=0.02)
    g.accept(nao.home + 10.0, 0.0)                    # beyond the range: clipped into it
    assert np.all(g.last <= nao.position_upper)
    cmd, hold = g.due(1.0, nao.home, np.zeros(nao.n))
    assert hold == HOLD_DEADLINE and np.array_equal(cmd, g.last)


def test_doctor_on_hardware_runs_through_the_adapter():
    from sim2real.graph import doctor_graph
    for name in sorted(ROBOTS):
        decls = {d.name: d for d in doctor_graph(name, "hardware", None)}
        assert set(decls) == {"driver", "safety_filter", "doctor"}
        assert decls["driver"].kind == load_hardware(load_robot(name)).node
        assert decls["driver"].params["command_source"] == "safety_filter"
        assert decls["safety_filter"].params["command_source"] == "doctor"
