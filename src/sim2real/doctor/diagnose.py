"""The doctor's verdict: what the doctor node collected -> findings and suggested corrections.

The node (ros/nodes/doctor.py) records /joint_states and runs the excitation experiment through
the safety filter; `diagnose` judges the contract (doctor/contract.py), then, if the experiment
completed, identifies each joint (doctor/identify.py) and turns that into findings and driver
corrections (doctor/report.py). The CLI only prints the result.
"""
from __future__ import annotations

from dataclasses import dataclass

from sim2real.doctor.contract import check_contract, map_names
from sim2real.doctor.findings import WRONG, Finding, worst
from sim2real.doctor.report import corrections, joint_findings, loop_findings, naming_corrections


@dataclass
class Diagnosis:
    findings: list[Finding]
    corrections: dict | None   # driver corrections (doctor/adapter.py's format) when the experiment ran
    aborted: str | None        # why the experiment did not complete; None when it did

    @property
    def failed(self) -> bool:
        """Something is wrong, or the experiment could not tell."""
        return worst(self.findings) == WRONG or self.aborted is not None


def diagnose(robot, samples: list, order: list[str] | None, exc, finished: bool,
             interrupted: bool = False, clock: dict | None = None) -> Diagnosis:
    """samples: [(recv_wall_s, stamp_s, names, q, qd, effort)] as check_contract takes them;
    order: the arm joints in the driver's order; exc: the node's Excitation (None when it never
    started, no usable /joint_states); finished: whether it ran to its end; interrupted: a signal
    (Ctrl-C) stopped it; clock: what arrived on /clock (check_contract's `clock`)."""
    findings, wire_order = check_contract(samples, robot, clock=clock)
    # a driver naming the joints its own way, consistently: the corrections rename them (adapter)
    names = map_names(samples[-1][2], robot.joint_names).mapping if samples else None
    names = names if names and any(k != v for k, v in names.items()) else None
    if exc is None or not finished:
        why = "interrupted (Ctrl-C)" if interrupted else "no usable /joint_states" if exc is None else "timed out"
        findings.append(Finding("excitation", "-", WRONG, "did not run" if exc is None else "stopped",
                                "complete", why))
        # what the contract alone tells (names, order): run the doctor again behind the adapter
        fix = naming_corrections(robot, wire_order, names) if names and wire_order else None
        return Diagnosis(findings, fix, "interrupted" if interrupted else "not run")
    if exc.aborted:
        findings.append(Finding("excitation", "-", WRONG, "aborted", "complete", exc.aborted))
        return Diagnosis(findings, None, exc.aborted)
    from sim2real.doctor.steps import StepExperiment, step_findings
    if isinstance(exc, StepExperiment):     # position / PD-target robots: no corrections file yet
        return Diagnosis(findings + step_findings(exc.record(), order), None, None)
    from sim2real.control.nominal_model import NominalModel
    from sim2real.doctor.identify import identify
    rec = exc.record()
    ids, grav = identify(rec, order, robot, NominalModel(robot))
    return Diagnosis(findings + loop_findings(rec) + joint_findings(ids, grav),
                     corrections(robot, order, ids, grav, rec["delay_s"], names=names), None)
