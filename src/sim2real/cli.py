"""`sim2real ...`: up, demo, record, teleop, view, bench, train, eval, doctor, check, data.
Errors print one line `sim2real: error: ...` on stderr and exit 2."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sim2real import graph as _graph
from sim2real.errors import Sim2RealError


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line, like the rest of the CLI's."""

    def error(self, message):
        self.exit(2, f"sim2real: error: {self.prog.removeprefix('sim2real ')}: {message}\n"
                  if self.prog != "sim2real" else f"sim2real: error: {message}\n")


def _arg_type(parse):
    """An argparse type from a value parser of graph.py (its ValueError message is the error)."""
    def arg(text):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return arg


SECONDS = _arg_type(_graph.SECONDS)   # s, > 0
COUNT = _arg_type(_graph.COUNT)       # >= 1
SEED = _arg_type(_graph.SEED)         # >= 0, < 2**32


def _new_output(path: str | None, force: bool) -> None:
    """Refuse to replace an existing recording unless --force (then it is removed now)."""
    if path and Path(path).exists():
        if not force:
            raise Sim2RealError(f"{path}: exists; pass --force to overwrite it")
        Path(path).unlink()


def _given(path: str | None) -> str | None:
    """A file path from the command line, as the user meant it (paths.user_path)."""
    from sim2real import paths
    return str(paths.user_path(path)) if path else None


DEMO_OPTIONS = ("robot", "record", "duration", "camera", "targets", "seed", "policy", "policy_checkpoint")   # demo: MuJoCo


def _graph_args(p: argparse.ArgumentParser, only: tuple[str, ...] | None = None, force: bool = True,
                **help_for: str) -> None:
    """The graph's options (graph.GRAPH_OPTIONS, or those named in `only`) as flags; each lands in
    the namespace under its option name. help_for: a command's own help for an option. force:
    also --force (overwrite an existing --record file)."""
    for o in _graph.GRAPH_OPTIONS:
        if only is not None and o.name not in only:
            continue
        text = help_for.get(o.name, o.describe())
        if o.switch:
            p.add_argument(o.flag, dest=o.name, action="store_false" if o.default else "store_true",
                           help=(f"do not {text}" if o.default else text) + f" (default: {'on' if o.default else 'off'})")
        else:   # robot, backend and controller are checked by build_graph, which names the choices
            p.add_argument(o.flag, dest=o.name, type=_arg_type(o.type), default=o.default, metavar=o.metavar,
                           help=text + (f" (default: {o.default})" if o.default is not None else ""))
    if force:
        p.add_argument("--force", action="store_true", help="overwrite an existing --record file")


def _graph_values(a: argparse.Namespace, only: tuple[str, ...] | None = None) -> dict:
    """The typed values of the graph's options from a parsed command line."""
    return {o.name: getattr(a, o.name) for o in _graph.GRAPH_OPTIONS if only is None or o.name in only}


def cmd_up(a) -> int:
    from sim2real.graph import apply_ros_args, build_graph, graph_kwargs
    if a.backend == "gazebo":    # hardware: the vendor adapter runs here, the vendor's driver outside
        raise Sim2RealError("backend 'gazebo' runs Gazebo and its controllers outside this process: on a full ROS 2 "
                            "install use `ros2 launch sim2real bringup.launch.py backend:=gazebo`")
    _new_output(a.record, a.force)
    decls = apply_ros_args(build_graph(**graph_kwargs(_graph_values(a))), a.ros_args)
    print(f"sim2real up: {a.robot} on {a.backend}{' with ' + a.reality if a.reality else ''}: "
          f"{', '.join(d.name for d in decls)} ({'processes' if a.processes else 'one process'}); Ctrl-C stops")
    if a.processes:
        from sim2real.ros.compose import run_processes
        return run_processes(decls)   # --duration: the driver stops after that many sim seconds
    from sim2real.ros.compose import Composition
    start = time.perf_counter()        # the driver steps from the moment its node exists
    with Composition(decls) as c:
        c.spin(until_driver_done=bool(a.duration), timeout_s=None)
        d = c.nodes.get("driver")
        if d is not None:
            wall = time.perf_counter() - start
            print(f"ran {d.steps} control steps in {wall:.1f} s of wall time, start-up included "
                  f"({d.steps / max(wall, 1e-9):.0f} steps/s)")
    return 0


def cmd_demo(a) -> int:
    from sim2real.robots import load_robot
    robot = load_robot(a.robot)
    if robot.tasks and robot.tasks[0] == "stand":
        return _demo_stand(a, robot)
    from sim2real.eval.report import reach_report
    from sim2real.graph import apply_ros_args, build_graph, graph_kwargs
    from sim2real.ros.compose import Composition
    from sim2real.tasks.reach import ReachTask
    task = ReachTask.from_robot(robot)
    duration = a.duration or a.targets * task.hold_s
    out = Path(a.record or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}.mcap")
    _new_output(str(out), a.force)
    decls = apply_ros_args(build_graph(**graph_kwargs({**_graph_values(a, DEMO_OPTIONS), "record": str(out),
                                                       "duration": duration})), a.ros_args)
    by = {d.name: d for d in decls}
    mode = by["controller"].params.get("mode") or "computed_torque" if "controller" in by else "none"
    policy = getattr(a, "policy", None) or "planner"
    print(f"demo: {a.robot} in MuJoCo (lockstep), policy {policy}, controller {mode}, "
          f"{a.targets} targets x {task.hold_s:.0f} s" + (f", {duration:g} sim s" if a.duration else ""))
    with Composition(decls) as c:
        start = time.perf_counter()
        stopped = c.spin(timeout_s=600)
        wall = time.perf_counter() - start
        d = c.nodes["driver"]
        steps, timeouts, sim_s = d.steps, d.timeouts, d.sim.time
    rep = reach_report(out, robot)
    if stopped:      # the report covers the targets shown so far, not the demo
        print(f"demo interrupted at {sim_s:.1f} of {duration:g} sim s: the figures below cover that part only")
    print("\n".join(rep.lines()))
    if not rep.results and not stopped:
        print(f"no target was shown for its whole {task.hold_s:g} s: --duration {duration:g} is shorter than one target")
    print(f"control rate: {steps / wall:.0f} steps/s in lockstep ({steps} steps of {robot.dt * 1e3:.0f} ms, "
          f"{steps * robot.dt / wall:.2f}x real time; {timeouts} command timeouts)")
    print(f"recording: {out} ({rep.samples} joint states)")
    if stopped:
        return 130
    return 0 if rep.results and rep.reached == len(rep.results) else 1


def _demo_stand(a, robot) -> int:
    """Legged robots: the stand baseline through the whole graph in lockstep; height and tilt of
    the base watched from the simulator (ground truth) at every spin."""
    from sim2real.eval.report import StandWatch
    from sim2real.graph import apply_ros_args, build_graph, graph_kwargs
    from sim2real.ros.compose import Composition
    from sim2real.tasks.stand import StandTask
    task = StandTask.from_robot(robot)
    duration = a.duration or task.duration_s
    out = Path(a.record or f"runs/demo-{robot.name}-{time.strftime('%Y%m%d-%H%M%S')}.mcap")
    _new_output(str(out), a.force)
    decls = apply_ros_args(build_graph(**graph_kwargs({**_graph_values(a, DEMO_OPTIONS), "record": str(out),
                                                       "duration": duration})), a.ros_args)
    print(f"demo: {robot.name} stands in MuJoCo (lockstep), stand baseline + {robot.actuation} joint PD, "
          f"{duration:g} sim s")
    watch = StandWatch(task)
    with Composition(decls) as c:
        d = c.nodes["driver"]
        start = time.perf_counter()
        stopped = False
        while not d.done and time.perf_counter() - start < 600:
            if c.spin(timeout_s=0.05):
                stopped = True
                break
            watch.sample(d.sim.time, *d.sim.base_pose())
        wall = time.perf_counter() - start
        steps, timeouts, sim_s = d.steps, d.timeouts, d.sim.time
    if stopped:
        print(f"demo interrupted at {sim_s:.1f} of {duration:g} sim s: the figures below cover that part only")
    print(watch.line())
    print(f"control rate: {steps / wall:.0f} steps/s in lockstep ({steps} steps of {robot.dt * 1e3:.0f} ms, "
          f"{steps * robot.dt / wall:.2f}x real time; {timeouts} command timeouts)")
    print(f"recording: {out}")
    if stopped:
        return 130
    return 0 if watch.ok else 1


def cmd_record(a) -> int:
    """Record a running graph; exits non-zero naming every asked-for topic that recorded nothing."""
    from sim2real.graph import NodeDecl
    from sim2real.ros.compose import Composition
    _new_output(a.output, a.force)
    params = {"path": a.output}
    if a.topics:
        params["topics"] = a.topics
    # log times in the base the graph stamps in: sim time when it publishes /clock (lockstep, Gazebo)
    if a.sim_time == "auto":
        from sim2real.ros.graph_probe import clock_published
        params["use_sim_time"] = clock_published()
    else:
        params["use_sim_time"] = a.sim_time == "on"
    with Composition([NodeDecl("recorder", "recorder", params)]) as c:
        node = c.nodes["recorder"]
        print(f"recording {', '.join(sorted(node.wanted))} -> {a.output}; "
              + (f"{a.duration:g} s" if a.duration else "Ctrl-C stops"), flush=True)
        try:
            c.spin_for(a.duration) if a.duration else c.spin(until_driver_done=False)
        except KeyboardInterrupt:
            pass
        silent, counts = node.silent_topics(), node.rec.counts
    print(f"{sum(counts.values())} messages: " + (", ".join(f"{t} {n}" for t, n in sorted(counts.items()) if n)
                                                  or "none"))
    if not sum(counts.values()) and Path(a.output).exists():
        Path(a.output).unlink()      # a file with no message would only block the next run (exists: --force)
        print(f"{a.output}: nothing recorded, file removed")
    if silent:
        raise Sim2RealError("recorded nothing on " + "; ".join(f"{t} ({why})" for t, why in silent.items()))
    return 0


def cmd_teleop(a) -> int:
    from sim2real.graph import NodeDecl
    from sim2real.ros.compose import Composition
    if a.device == "reset-lock":
        from sim2real.ros.lock_reset import reset_lock
        n = reset_lock()
        if not n:
            raise Sim2RealError("nobody listens on /teleop/lock_reset: is a graph running on this ROS_DOMAIN_ID?")
        print(f"teleop lock reset sent to {n} node(s)")
        return 0
    if a.device == "keyboard" and not sys.stdin.isatty():
        raise Sim2RealError("teleop keyboard needs a terminal (stdin is not a tty): run it in a terminal "
                            "or tmux, or use `sim2real teleop joy`")
    kind = {"keyboard": "keyboard_teleop", "joy": "joy_teleop"}[a.device]
    with Composition([NodeDecl(kind, kind, {"robot": a.robot})]) as c:
        c.spin(until_driver_done=False)
    return 0


def cmd_bench(a) -> int:
    if a.what == "controller":
        return cmd_bench_controller(a)
    if a.what == "faults":
        return cmd_bench_faults(a)
    if a.what == "env":
        from sim2real.policy.commands import bench_env
        return bench_env(a)
    from sim2real.ros.bench_graph import main as bench_main
    return bench_main(a)


def cmd_bench_faults(a) -> int:
    import dataclasses
    import json
    import platform

    from sim2real.ros import faults
    unknown = set(a.scenarios or ()) - set(faults.SCENARIOS)
    if unknown:
        raise Sim2RealError(f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {', '.join(faults.SCENARIOS)}")
    print(f"bench faults: jaco, machine {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
          file=sys.stderr, flush=True)
    out = faults.run(a.scenarios, log=lambda m: print(m, file=sys.stderr, flush=True))
    if a.json:
        print(json.dumps([dataclasses.asdict(o) | {"safe": o.safe} for o in out], indent=1))
    else:
        print(faults.table(out))
    return 0 if all(o.safe for o in out) else 1


def cmd_bench_controller(a) -> int:
    import platform

    from sim2real.eval.benchmark import BENCH_MODES, plot, run_benchmark, summary_lines
    from sim2real.control.modes import REGISTRY
    from sim2real.robots import load_robot
    from sim2real.sim.reality import NOMINAL, load_profile
    robot = load_robot(a.robot)
    profile = load_profile(_given(a.reality)) if a.reality else NOMINAL
    modes = a.modes or list(BENCH_MODES)
    unknown = set(modes) - set(BENCH_MODES)
    if unknown:
        raise Sim2RealError(f"unknown mode(s) {', '.join(sorted(unknown))}; choose from {', '.join(BENCH_MODES)}")
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    given = {"dynamics_prior": a.prior_checkpoint, "inverse_dynamics": a.inverse_checkpoint}
    import contextlib
    as_json = getattr(a, "json", False)
    ckpt = {}   # mode -> checkpoint; a mode needing none, or its default (paths.checkpoint), is absent
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():   # stdout: the JSON only
        for m in modes:
            kind = REGISTRY[m].needs if m in REGISTRY else None
            if kind and given.get(kind):
                ckpt[m] = _given(given[kind])
            elif kind == "inverse_dynamics":   # learned from the robot itself, never from a profile
                ckpt[m] = _inverse_model_for(robot, profile, out_dir, a)
    log = (lambda *x, **k: print(*x, file=sys.stderr, flush=True)) if as_json else print   # noqa: E731
    log(f"bench controller: {robot.name} on the twin ({profile.name}), lockstep; machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", flush=True)
    episodes = run_benchmark(robot, profile, modes, ckpt, seed=a.seed, log=log)
    log("\n".join(summary_lines(episodes, profile.name)))
    png = out_dir / f"controller-{profile.name}.png"
    plot(episodes, png, f"tracking error per mode, {robot.name} twin ({profile.name})")
    log(f"plot: {png}")
    if as_json:
        import json
        from sim2real.eval.benchmark import figures
        fig = figures(episodes, profile.name)
        fig.update(robot=robot.name, reality=str(a.reality) if a.reality else None, plot=str(png), seed=a.seed)
        print(json.dumps(fig, indent=2))
    return 0


def _inverse_model_for(robot, profile, out_dir: Path, a) -> str:
    """The inverse model is learned from the robot itself: record the twin, train on the file."""
    from sim2real.control.collect import record_twin
    from sim2real.control.train import train_inverse_dynamics
    rec = out_dir / f"twin-{profile.name}.mcap"
    print(f"inverse_dynamics: recording {a.record_seconds:.0f} s of the twin ({profile.name}) -> {rec}", flush=True)
    record_twin(robot, profile, rec, a.record_seconds, seed=a.seed + 1)
    path, val = train_inverse_dynamics(robot, rec, out_dir / f"inverse_dynamics-{profile.name}", epochs=a.epochs,
                                       overwrite=True)   # runs/bench is the benchmark's scratch folder
    print(f"inverse_dynamics: trained on the recording only -> {path} (validation MSE {val:.4f}, normalised)")
    return path


def cmd_train(a) -> int:
    from sim2real import paths
    from sim2real.control.train import train_dynamics_prior, train_inverse_dynamics
    from sim2real.robots import load_robot
    if a.what == "policy":
        from sim2real.policy.commands import train_policy
        return train_policy(a)
    if a.what == "perception":
        from sim2real.perception.commands import train as train_perception
        return train_perception(a)
    robot = load_robot(a.robot)
    a.epochs = a.epochs or 30
    if a.what == "dynamics-prior":
        out = a.out or paths.checkpoint(robot.name, "dynamics_prior")
        path, val = train_dynamics_prior(robot, out, seconds=a.seconds, epochs=a.epochs, seed=a.seed,
                                         overwrite=a.force)
    else:
        if not a.mcap:
            raise Sim2RealError("train inverse-dynamics needs --mcap RECORDING (/joint_states + /effort_controller/commands)")
        if not Path(a.mcap).is_file():
            raise Sim2RealError(f"--mcap {a.mcap}: no such file")
        out = a.out or paths.checkpoint(robot.name, "inverse_dynamics")
        path, val = train_inverse_dynamics(robot, a.mcap, out, history=a.history, lookahead=a.lookahead,
                                           epochs=a.epochs, seed=a.seed, action=a.action, overwrite=a.force)
    print(f"checkpoint: {path} (+ .json metadata); validation MSE {val:.4f} (normalised units)")
    return 0


def cmd_eval(a) -> int:
    if a.what == "perception":
        from sim2real.perception.commands import evaluate
        return evaluate(a)
    from sim2real.policy.commands import eval_policy
    return eval_policy(a)


def cmd_doctor(a) -> int:
    from sim2real.doctor.diagnose import diagnose
    from sim2real.doctor.report import table, to_json, to_yaml
    from sim2real.graph import doctor_graph
    from sim2real.robots import load_robot
    from sim2real.ros.compose import Composition
    robot = load_robot(a.robot)
    if a.out and Path(a.out).exists() and not a.force:     # before the experiment, not after it
        raise Sim2RealError(f"{a.out}: exists; pass --force to overwrite it")
    decls = doctor_graph(a.robot, a.backend, _given(a.reality), lockstep=a.lockstep)
    if not a.json:
        print(f"doctor: {a.robot} via {a.backend}{' (' + a.reality + ')' if a.reality else ''}: "
              f"contract, then a small pulse on each joint with the safety filter active", file=sys.stderr)
    with Composition(decls) as c:
        doc = c.nodes["doctor"]
        stopped = c.spin(timeout_s=a.timeout, until="doctor")
        d = diagnose(robot, list(doc.samples), doc.order, doc.exc, doc.finished, interrupted=stopped,
                     clock=doc.clock)
    if a.json:
        print(to_json(d.findings, d.corrections, d.aborted))
    else:
        print(table(d.findings))
        if d.corrections:
            print("\nsuggested corrections:\n" + to_yaml(d.corrections))
    if d.corrections and a.out:
        Path(a.out).write_text(to_yaml(d.corrections))
    return 1 if d.failed else 0


def cmd_check(a) -> int:
    from sim2real.robots import load_robot
    from sim2real.sim.reality import load_profile
    robot = load_robot(a.robot)
    for f in a.profiles:
        prof = load_profile(f)
        prof.resolve(robot)
        print(f"{f}: ok ({prof.name})")
    return 0


def cmd_data(a) -> int:
    if a.data_cmd == "render":
        from sim2real.perception.commands import render
        return render(a)
    from sim2real.data.recover import recover
    rep = recover(a.file, a.output, overwrite=a.force)
    print("\n".join(rep.lines()))
    if not rep.messages:       # a script must not take an empty file for data
        Path(rep.output).unlink(missing_ok=True)
        print(f"{a.file}: no message to recover; {rep.output} not kept", file=sys.stderr)
        return 1
    return 0


SPINNING = ("up", "demo", "record", "teleop", "view", "doctor")   # commands that run nodes until stopped


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="sim2real", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="bring up the graph (in one process, or --processes)")
    _graph_args(p)
    p.add_argument("--processes", action="store_true", help="one OS process per node (topics cross DDS)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("demo", help="reach targets in MuJoCo with the baseline and print a report")
    _graph_args(p, DEMO_OPTIONS, duration="sim seconds (> 0; default: the targets' hold times)",
                record="record to this .mcap (default: runs/demo-TIME.mcap)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("record", help="record topics of a running graph to .mcap")
    p.add_argument("--output", "-o", default=f"runs/record-{time.strftime('%Y%m%d-%H%M%S')}.mcap")
    p.add_argument("--topics", nargs="+", default=None, help="topics (default: the control loop's)")
    p.add_argument("--duration", type=SECONDS, default=None, help="wall seconds (> 0; default: until Ctrl-C)")
    p.add_argument("--sim-time", choices=["auto", "on", "off"], default="auto",
                   help="log times on /clock (auto: when the running graph publishes it)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(func=cmd_record)
    p = sub.add_parser("teleop", help="take over a running graph from the keyboard or a joystick")
    p.add_argument("device", choices=["keyboard", "joy", "reset-lock"],
                   help="reset-lock: release every hold of the lock, whoever set it")
    _graph_args(p, ("robot",), force=False)
    p.set_defaults(func=cmd_teleop)
    from sim2real.view import cli as view_cli
    view_cli.add_parser(sub)
    p = sub.add_parser("bench", help="benchmarks that print figures")
    p.add_argument("what", choices=["graph", "controller", "faults", "env"])
    p.add_argument("--seconds", type=SECONDS, default=5.0,
                   help="graph: sim seconds per lockstep measurement; env: wall seconds per measurement")
    p.add_argument("--realtime-seconds", type=SECONDS, default=10.0, help="graph: wall seconds of the real-time run")
    _graph_args(p, ("robot",), force=False)
    p.add_argument("--reality", default=None, help="controller: the twin's reality profile")
    p.add_argument("--modes", nargs="*", default=None, help="controller: modes to run (default: all + oracle)")
    p.add_argument("--prior-checkpoint", default=None,
                   help="controller: dynamics prior (default models/ROBOT/dynamics_prior.pt)")
    p.add_argument("--inverse-checkpoint", default=None,
                   help="controller: inverse model (default: record the twin and train one on the recording)")
    p.add_argument("--record-seconds", type=SECONDS, default=180.0,
                   help="controller: twin recording for the inverse model")
    p.add_argument("--epochs", type=COUNT, default=30, help="controller: inverse model training epochs")
    p.add_argument("--seed", type=SEED, default=0, help="controller: trajectory seed")
    p.add_argument("--out", default="runs/bench", help="controller: folder for the plot and recordings")
    p.add_argument("--scenarios", nargs="*", default=None, help="faults: which (default: all)")
    p.add_argument("--envs", type=COUNT, default=64, help="env: simulations stepped together")
    p.add_argument("--json", action="store_true", help="graph, faults, env: machine-readable figures on stdout")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("train", help="train the policy, perception or the controller's networks")
    p.add_argument("what", choices=["policy", "perception", "dynamics-prior", "inverse-dynamics"])
    _graph_args(p, ("robot",), force=False)
    p.add_argument("--out", default=None, help="checkpoint path (default: models/ROBOT/KIND.pt in the data root, "
                                                 "where the controller modes look)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint (e.g. the shipped one)")
    p.add_argument("--epochs", type=COUNT, default=None, help="network epochs (default: 30; perception: its own)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--seconds", type=SECONDS, default=240.0, help="dynamics-prior: simulated seconds of data")
    p.add_argument("--mcap", default=None, help="inverse-dynamics: recording of the robot")
    p.add_argument("--history", type=COUNT, default=1, help="inverse-dynamics: k observations, k-1 actions")
    p.add_argument("--action", default="effort", choices=["effort", "command"],
                   help="inverse-dynamics: learn the applied joint torque (default) or the command (the paper's)")
    p.add_argument("--lookahead", type=COUNT, default=16,
                   help="inverse-dynamics: desired observation L steps ahead (1 in the paper; ~ the command delay)")
    p.add_argument("--scheme", default="dr", help="policy: nominal | dr | epopt | epopt+adapt; perception: "
                                                  "sim-only | dr | dr+confusion | dr+confusion+pairs, or stage2 (the crop refiner; default: dr)")
    p.add_argument("--target-data", default=None, help="policy epopt+adapt, perception adaptation: .mcap recorded "
                                                        "on the target robot")
    p.add_argument("--dataset", default=None, help="perception: rendered dataset .npz (default: render one)")
    p.add_argument("--images", type=COUNT, default=None, help="perception: images to render when no --dataset")
    p.add_argument("--threads", type=COUNT, default=None, help="perception: torch threads")
    p.add_argument("--time-budget", type=SECONDS, default=None, help="perception: stop training after this many s; "
                   "policy: stop before the iteration that would end past this many s (checkpoint and curves of "
                   "what it reached, metadata stopped: time_budget)")
    p.add_argument("--iterations", type=COUNT, default=100, help="policy: PPO iterations (one episode per robot each)")
    p.add_argument("--envs", type=COUNT, default=64, help="policy: robots drawn per iteration")
    p.add_argument("--epsilon", type=float, default=0.25, help="policy, epopt: fraction of worst trajectories kept")
    p.add_argument("--warmup", type=int, default=30, help="policy, epopt: iterations on all trajectories first")
    p.add_argument("--randomization", default=None,
                   help="policy: the ranges file the robots are drawn from (default: config/randomization/<robot>.yaml)")
    p.add_argument("--task-group", type=COUNT, default=None,
                   help="policy: robots sharing targets, start posture and latencies (EPOpt ranks them among "
                        "themselves); divides --envs (default: 8 for epopt and epopt+adapt, 1 (no groups) for dr and nominal)")
    p.add_argument("--init", default=None, help="policy: start the actor from this checkpoint (e.g. EPOpt after dr); "
                   "perception: start from this perception checkpoint (e.g. adaptation after dr)")
    p.add_argument("--critic-warmup", type=int, default=0,
                   help="policy, with --init: first iterations train the fresh value net only (the actor frozen)")
    p.add_argument("--init-log-std", type=float, default=None,
                   help="policy: exploration log std at the start (default: -0.8 from scratch, -1.2 with --init)")
    p.add_argument("--learning-rate", type=float, default=None, help="policy: PPO's learning rate (default 3e-4)")
    p.add_argument("--adapt-samples", type=COUNT, default=1000,
                   help="policy, epopt+adapt: parameter draws weighed against the target data")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("eval", help="evaluate policies or perception on the twin")
    p.add_argument("what", choices=["policy", "perception"])
    p.add_argument("--n", type=COUNT, default=None, help="perception: twin images to evaluate on")
    p.add_argument("--refine", default=None, help="perception: stage-2 checkpoint (default: the shipped "
                                                  "models/ROBOT/perception_refine; 'none': stage 1 alone)")
    p.add_argument("--calibration-images", type=COUNT, default=None,
                   help="perception: of those, how many calibrate the camera on the arm first (default 60)")
    p.add_argument("--checkpoints", nargs="*", default=None, help="perception: checkpoints (default: the shipped ones); policy: SCHEME=FILE.pt "
                        "evaluated in place of that scheme's shipped checkpoint")
    _graph_args(p, ("robot",), force=False)
    p.add_argument("--reality", default=None, help="the twin's reality profile (default: nominal)")
    p.add_argument("--episodes", type=COUNT, default=20, help="targets per policy")
    p.add_argument("--policies", nargs="*", default=None,
                   help="nominal dr epopt epopt+adapt planner (default: all; a learned one needs its checkpoint)")
    p.add_argument("--sweep", default=None, help="KEY=LOW:HIGH[:COUNT]: return across one parameter, e.g. payload=0:1.5")
    p.add_argument("--graph", action="store_true", help="also run the real-time ROS graph on the twin")
    p.add_argument("--seed", type=SEED, default=0, help="target seed")
    p.add_argument("--out", default="runs/eval", help="folder for plots and recordings")
    p.add_argument("--json", action="store_true", help="machine-readable figures on stdout")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("doctor", help="check a driver against the robot model before arming a policy")
    _graph_args(p, ("robot",), force=False)
    p.add_argument("--backend", default="twin", help="twin | gazebo | hardware (gazebo: connects to a running Gazebo; hardware: through the robot's vendor adapter, config/hardware/)")
    p.add_argument("--reality", default=None, help="reality profile for the twin")
    p.add_argument("--lockstep", action="store_true", help="twin only: step in lockstep (fast, deterministic)")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.add_argument("--out", default=None, help="write the suggested corrections YAML here")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument("--timeout", type=SECONDS, default=120.0, help="wall seconds to wait for the experiment")
    p.set_defaults(func=cmd_doctor)
    p = sub.add_parser("check", help="validate reality profiles against a robot")
    p.add_argument("profiles", nargs="+")
    _graph_args(p, ("robot",), force=False)
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("data", help="datasets: `data recover FILE` (a torn .mcap made whole), `data render` (perception)")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    p = dsub.add_parser("render", help="randomized renders of the robot's scene for perception (dataset .npz)")
    _graph_args(p, ("robot",), force=False)
    p.add_argument("--n", type=COUNT, default=1000, help="images")
    p.add_argument("--out", default=None, help="dataset file (default runs/perception/ROBOT-MODE-N-sSEED.npz)")
    p.add_argument("--nominal", action="store_true", help="the nominal scene only (no randomization)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--workers", type=COUNT, default=None, help="processes (default: the cores)")
    p.add_argument("--force", action="store_true", help="overwrite an existing dataset")
    p.set_defaults(func=cmd_data)
    p = dsub.add_parser("recover", help="turn a torn .mcap (killed writer: no footer, last record cut) "
                                        "into one every MCAP reader opens")
    p.add_argument("file")
    p.add_argument("-o", "--output", default=None, help="default: FILE's name with .recovered before .mcap")
    p.add_argument("--force", action="store_true", help="overwrite an existing output (may be FILE itself)")
    p.set_defaults(func=cmd_data)
    return ap


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = []
    if "--ros-args" in argv:     # ROS's own arguments, for every node (`up`, `demo`): graph.apply_ros_args
        i = argv.index("--ros-args")
        argv, ros_args = argv[:i], argv[i + 1:]
        sys.argv = sys.argv[:1] + argv    # rclpy.init reads sys.argv: they are applied once, here
    a = parser().parse_args(argv)
    a.ros_args = ros_args
    if ros_args and a.cmd not in ("up", "demo"):
        print(f"sim2real: error: --ros-args is for `up` and `demo`, not `{a.cmd}`", file=sys.stderr)
        return 2
    try:
        if a.cmd in SPINNING:   # SIGINT/SIGTERM stop the graph in order, from the first moment
            from sim2real.ros.signals import StopSignals
            with StopSignals():
                return a.func(a)
        return a.func(a)
    except Sim2RealError as e:
        print(f"sim2real: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sim2real: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
