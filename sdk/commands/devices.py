"""`edgewise bench`, `edgewise results` and `edgewise devices`: measuring on devices and the history.

    edgewise bench model.tflite --device pi5 --device ssh://u0_a123@phone:8022 --tag lab
    edgewise results list | show ID | compare BASE CAND | export ID... --format html -o r.html | import f.json
    edgewise devices list | clean DEVICE
"""
from __future__ import annotations

import json
import os
import sys

from ..progress import StepPrinter
from ..runtime.model import BACKENDS

EXIT_ERROR = 1


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _write(path: str, text: str) -> None:
    from ..fileio import write_bytes_atomic

    write_bytes_atomic(path, text.encode("utf-8"))


# -- bench -------------------------------------------------------------------------------------
def _targets(args):
    from ..device_tests.inventory import load_inventory, resolve

    inventory = load_inventory(args.inventory)
    if not args.device and not args.tag:
        raise ValueError("name at least one device: --device local, --device ssh://USER@HOST[:PORT], "
                         "--device NAME (inventory or ~/.ssh/config), or --tag TAG")
    return inventory, resolve(args.device, args.tag, inventory)


def _summary_lines(result) -> list:
    lat = result.latency_ms
    lines = []
    if result.agent is not None:
        lines.append(f"python:  {result.agent.describe()}")
    lines.append(f"backend: {result.backend.get('name')} ({result.backend.get('reason')})")
    if lat.n:
        ci = lat.p50_ci
        ci_text = f" [95% CI {ci[0]:.3f}-{ci[1]:.3f}]" if ci else ""
        lines.append(f"latency: p50 {lat.p50:.3f} ms{ci_text}  p90 {lat.p90:.3f} ms  p99 {lat.p99:.3f} ms  "
                     f"mean {lat.mean:.3f} ± {lat.std:.3f} ms  min {lat.min:.3f} ms  (n={lat.n})")
    m = result.memory
    if m.peak_rss_bytes:
        pss = f", PSS after run {m.pss_after_run_bytes / 2**20:.1f} MiB" if m.pss_after_run_bytes else ""
        lines.append(f"memory:  peak RSS (VmHWM) {m.peak_rss_bytes / 2**20:.1f} MiB, RSS after load "
                     f"{(m.rss_after_load_bytes or 0) / 2**20:.1f} MiB{pss}, weights {m.weight_bytes or 0:,} B")
    e = result.energy
    if e is not None and e.energy_mj_per_inference is not None:
        lines.append(f"energy:  {e.energy_mj_per_inference:.4g} ± {e.uncertainty_mj:.2g} mJ per inference "
                     f"({e.source}: run {e.run_w:.3f} W, idle {e.idle_w:.3f} W)" + (f"; {e.reason}" if e.reason else ""))
    else:
        lines.append(f"energy:  not measured: {e.reason if e else 'no power trace'}")
    for f in result.flags:
        lines.append(f"FLAG {f.code}: {f.message}")
    return lines


def cmd_bench(args) -> int:
    from ..device_tests.bench import BenchSettings
    from ..device_tests.fleet import run_fleet

    if not os.path.isfile(args.model):
        raise FileNotFoundError(f"{args.model}: no such model file")
    inventory, targets = _targets(args)
    settings = BenchSettings(
        runs=args.runs, warmup=args.warmup, min_duration_s=args.min_duration, backend=args.backend,
        num_threads=args.threads, power=args.power, idle_s=args.idle, cooldown_s=args.cooldown,
    )
    if args.install_deps:
        from ..device_tests.offline import install_deps

        for t in targets:
            print(install_deps(t, identity=args.identity, known_hosts=args.known_hosts, inventory=inventory,
                               accept_new_host_key=args.accept_new_host_key, python=args.python,
                               progress=StepPrinter()))
    single = len(targets) == 1
    printer = StepPrinter()
    outcomes = run_fleet(
        args.model, targets, settings, inventory=inventory, retries=args.retries,
        progress=(lambda name, line: printer(line if single else f"[{name}] {line}")),
        identity=args.identity, known_hosts=args.known_hosts, accept_new_host_key=args.accept_new_host_key,
        python=args.python, connect_timeout=args.connect_timeout,
    )
    results = [o.result for o in outcomes if o.result is not None]
    if not args.no_save and results:
        from ..device_tests.results import ResultStore

        store = ResultStore(args.store)
        ids = [store.save(r) for r in results]
        print(f"saved as result {', '.join(map(str, ids))} in {store.path}", file=sys.stderr)
    _write_reports(args, results)
    status = 0
    for o in outcomes:
        print(f"\ndevice:  {o.device}")
        if o.result is not None:
            for line in _summary_lines(o.result):
                print(line)
        if o.error is not None:
            print(f"{'PARTIAL result' if o.result is not None else 'FAILED'} after {o.attempts} attempt(s): {o.error}")
            status = EXIT_ERROR
    return status


def _write_reports(args, results) -> None:
    if args.json:
        from ..fileio import write_json_atomic

        doc = results[0].to_dict() if len(results) == 1 else {"results": [r.to_dict() for r in results]}
        write_json_atomic(args.json, doc)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.report:
        _export(results, args.report)
        print(f"wrote {args.report}", file=sys.stderr)


def _export(results, path: str, fmt: str = None) -> None:
    from ..device_tests import report

    fmt = fmt or os.path.splitext(path)[1].lstrip(".").lower()
    if fmt in ("html", "htm"):
        _write(path, report.to_html(results))
    elif fmt in ("md", "markdown"):
        _write(path, report.markdown(results))
    elif fmt == "json":
        from ..fileio import write_json_atomic

        write_json_atomic(path, [report.summary(r) for r in results])
    else:
        raise ValueError(f"{path}: unknown report format {fmt!r}; use .html, .md or .json")


# -- results -----------------------------------------------------------------------------------
def cmd_results(args) -> int:
    from ..device_tests.compare import compare
    from ..device_tests.results import ResultStore

    store = ResultStore(args.store)
    if args.action == "list":
        entries = store.list(device=args.device, model=args.model)
        if args.json:
            _print_json([e.to_dict() for e in entries])
            return 0
        if not entries:
            print(f"no results in {store.path}")
            return 0
        rows = [(str(e.id), e.started_at, e.device, e.model, e.backend, "-" if e.p50_ms is None else f"{e.p50_ms:.3f}",
                 str(e.n), "-" if e.energy_mj is None else f"{e.energy_mj:.4g}", e.flags or ("partial" if e.partial else ""))
                for e in entries]
        header = ("id", "started", "device", "model", "backend", "p50 ms", "n", "mJ/inf", "flags")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        for r in [header] + rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        return 0
    if args.action == "import":
        if not args.refs:
            raise ValueError("results import takes one or more result JSON files (written by bench --json)")
        for path in args.refs:
            print(f"{path}: result {store.import_json(path)}")
        return 0
    if args.action == "show":
        if len(args.refs) != 1:
            raise ValueError("results show takes one result: an id from `results list`, 'last', or a JSON file")
        from ..device_tests.report import summary

        r = store.load(args.refs[0])
        if args.json:
            _print_json(summary(r))
        else:
            print(f"device:  {r.device} ({r.device_facts.board or 'board unknown'}), {r.started_at}")
            print(f"model:   {r.model} (sha256 {r.model_sha256[:16]})")
            for line in _summary_lines(r):
                print(line)
        return 0
    if args.action == "compare":
        if len(args.refs) != 2:
            raise ValueError("results compare takes two results: BASELINE CANDIDATE (ids, 'last', or JSON files)")
        c = compare(store.load(args.refs[0]), store.load(args.refs[1]), args.refs[0], args.refs[1])
        if args.json:
            _print_json(c.to_dict())
        else:
            print(c)
        return EXIT_ERROR if c.regression and args.fail_on_regression else 0
    # export
    if not args.refs or not args.output:
        raise ValueError("results export takes result ids and -o OUT (.html, .md or .json)")
    _export([store.load(ref) for ref in args.refs], args.output, args.format)
    print(f"wrote {args.output}")
    return 0


# -- devices -----------------------------------------------------------------------------------
def cmd_devices(args) -> int:
    from ..device_tests.inventory import load_inventory, resolve

    inventory = load_inventory(args.inventory)
    if args.action == "list":
        if args.json:
            _print_json([e.to_dict() for e in inventory.values()])
            return 0
        if not inventory:
            print("no inventory: write [devices.NAME] tables to ~/.config/edgewise/devices.toml (or --inventory FILE)")
        for e in inventory.values():
            print(f"{e.name:16s} {e.url}" + (f" via {e.jump}" if e.jump else "") +
                  (f"  tags: {', '.join(e.tags)}" if e.tags else ""))
        return 0
    from ..device_tests.offline import clean

    targets = resolve(args.device, args.tag, inventory)
    if not targets:
        raise ValueError("devices clean: name the device(s) with --device or --tag")
    for t in targets:
        removed = clean(t, identity=args.identity, known_hosts=args.known_hosts, inventory=inventory)
        print(f"{t.name}: removed {removed}")
    return 0


# -- parsers -----------------------------------------------------------------------------------
def _device_options(p, required_help: str) -> None:
    p.add_argument("--device", action="append", default=[], metavar="DEVICE", help=required_help)
    p.add_argument("--tag", action="append", default=[], help="every inventory device with this tag (repeatable)")
    p.add_argument("--inventory", help="device inventory TOML (default $EDGEWISE_INVENTORY or "
                                       "~/.config/edgewise/devices.toml)")
    p.add_argument("--identity", help="private key file for SSH (an inventory entry's key wins)")
    p.add_argument("--known-hosts", help="known_hosts file used to verify devices (default ~/.ssh/known_hosts)")


def _store_option(p) -> None:
    p.add_argument("--store", help="results store (SQLite; default $EDGEWISE_RESULTS or "
                                   "~/.local/share/edgewise/results.sqlite)")


def register(sub) -> None:
    b = sub.add_parser("bench", help="measure latency, memory and energy on devices over SSH (or locally)")
    b.add_argument("model")
    _device_options(b, "local, ssh://USER@HOST[:PORT], an inventory name or a ~/.ssh/config Host (repeatable: "
                       "all run at once)")
    b.add_argument("--accept-new-host-key", action="store_true",
                   help="trust and record a device's key if it is not yet known (a changed key is always refused)")
    b.add_argument("--python", default=None,
                   help="Python interpreter on the device (default: over SSH python3 or the inventory's; for "
                        "--device local the interpreter edgewise runs in)")
    b.add_argument("--runs", type=int, default=100, help="minimum timed runs (default 100)")
    b.add_argument("--warmup", type=int, default=10, help="warm-up runs (default 10)")
    b.add_argument("--min-duration", type=float, default=1.0, metavar="SECONDS",
                   help="minimum timed duration; the run ends when both minimums are met (default 1.0)")
    b.add_argument("--backend", default="auto", choices=BACKENDS)
    b.add_argument("--threads", type=int, default=None)
    b.add_argument("--power", default="auto",
                   help="power source: auto (the best the device has), off, or rapl, hwmon, pmic, power_supply, termux")
    b.add_argument("--idle", type=float, default=2.0, metavar="SECONDS", help="idle power baseline (default 2)")
    b.add_argument("--cooldown", type=float, default=0.0, metavar="SECONDS",
                   help="before measuring, wait up to this long for the temperature to settle")
    b.add_argument("--install-deps", action="store_true",
                   help="if NumPy is missing on a device, fetch wheels on this machine and install them into "
                        "edgewise's cache folder there (on Termux, print the pkg command instead)")
    b.add_argument("--retries", type=int, default=2, help="retries after a transient SSH failure (default 2)")
    b.add_argument("--connect-timeout", type=float, default=15.0, metavar="SECONDS")
    b.add_argument("--json", metavar="OUT.json", help="write the full result(s) as JSON")
    b.add_argument("--report", metavar="OUT", help="write a report: .html (with plots), .md or .json")
    _store_option(b)
    b.add_argument("--no-save", action="store_true", help="do not keep the result in the results store")
    b.set_defaults(func=cmd_bench)

    rs = sub.add_parser("results", help="the results store: list, show, compare, export, import")
    rs.add_argument("action", choices=["list", "show", "compare", "export", "import"])
    rs.add_argument("refs", nargs="*", help="result ids from `results list`, 'last', or result JSON files")
    _store_option(rs)
    rs.add_argument("--device", help="list: only this device")
    rs.add_argument("--model", help="list: only this model file name")
    rs.add_argument("--format", choices=["html", "md", "json"], help="export: format (default from -o's suffix)")
    rs.add_argument("-o", "--output", help="export: output file")
    rs.add_argument("--fail-on-regression", action="store_true",
                    help="compare: exit 1 when the candidate is slower beyond the measured noise")
    rs.add_argument("--json", action="store_true")
    rs.set_defaults(func=cmd_results)

    d = sub.add_parser("devices", help="the device inventory, and removing what edgewise put on a device")
    d.add_argument("action", choices=["list", "clean"])
    _device_options(d, "clean: the device to clean (repeatable)")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_devices)
