"""The doctor's verdict from what its node collected (the CLI only prints it)."""
from types import SimpleNamespace

from sim2real.doctor.diagnose import diagnose


def stream(jaco, n=200):
    names = list(jaco.joint_names)
    return [(0.002 * k, 0.002 * k, names, list(jaco.home), [0.0] * jaco.n, [0.0] * jaco.n) for k in range(n)]


def test_no_experiment_is_a_failure_that_says_why(jaco):
    d = diagnose(jaco, stream(jaco), list(jaco.joint_names), None, False)
    assert d.failed and d.aborted == "not run" and d.corrections is None
    assert any(f.check == "excitation" and "no usable" in f.note for f in d.findings)
    d = diagnose(jaco, stream(jaco), list(jaco.joint_names), SimpleNamespace(aborted=None), False)
    assert d.failed and any(f.note == "timed out" for f in d.findings)


def test_an_aborted_experiment_names_the_reason(jaco):
    d = diagnose(jaco, stream(jaco), list(jaco.joint_names), SimpleNamespace(aborted="lock set"), True)
    assert d.failed and d.aborted == "lock set" and d.corrections is None
    assert [f.status for f in d.findings if f.check == "joint order"] == ["OK"]


def test_no_joint_states_at_all(jaco):
    d = diagnose(jaco, [], None, None, False)
    assert d.failed and d.findings[0].check == "joint_states"


def test_ctrl_c_is_reported_as_interrupted_not_timed_out(jaco):
    d = diagnose(jaco, stream(jaco), list(jaco.joint_names), SimpleNamespace(aborted=None), False, interrupted=True)
    assert d.failed and d.aborted == "interrupted"
    assert any(f.check == "excitation" and f.note == "interrupted (Ctrl-C)" for f in d.findings)
    assert not any("timed out" in f.note for f in d.findings)


def test_cannot_tell_row_names_the_reported_explanation_and_lists_the_others_in_json():
    import json as _json

    from sim2real.doctor.report import joint_findings, to_json
    grav = {"alternative": ["joint_1", "joint_3"], "alternatives": [["joint_1", "joint_3"], ["joint_4", "joint_5", "joint_6"]],
            "sign": ["joint_5", "joint_2"], "observable_offsets": []}
    (row,) = joint_findings([], grav)
    assert row.status == "cannot tell" and row.measured.startswith("reported: [joint_2, joint_5] reversed")
    assert "[joint_1, joint_3] or [joint_4, joint_5, joint_6]" in row.measured
    out = _json.loads(to_json([row], {}, False))["findings"][0]
    assert out["alternatives"] == [["joint_2", "joint_5"], ["joint_1", "joint_3"], ["joint_4", "joint_5", "joint_6"]]
    assert "alternatives" not in _json.loads(to_json([row.__class__("latency", "-", "OK", "1", "0")], {}, False))["findings"][0]
