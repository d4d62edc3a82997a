"""``bertgan apps NAME``: the seeds' GAN applications. The flags of each command are its Config's fields
(``bertgan.apps.NAME.Config``), so the command line, the library and config.json say the same thing."""

from __future__ import annotations

import argparse
import dataclasses
import json


def _flag_type(field: dataclasses.Field):
    return field.metadata.get("type") or type(field.default)


def _flag(app: str, field: str) -> str:
    from bertgan.apps import flag_name

    return flag_name(app, field)


def register(sub) -> None:
    from bertgan.apps import APPS, load
    from bertgan.cli import (
        DATA_DIR_HELP,
        DEVICE_HELP,
        DRY_RUN_HELP,
        GROUPS,
        MAX_STEPS_HELP,
        PROGRESS_HELP,
        SEED_HELP,
        _Parser,
        add_renamed,
    )

    apps = sub.add_parser("apps", help=GROUPS["apps"],
                          description="The applications the BERT text and the GAN lecture list, each trained and "
                                      "measured. Every command has --quick (≤ 5 CPU-minutes) and defaults to the "
                                      "full setting.")
    asub = apps.add_subparsers(dest="app", metavar="APP", parser_class=_Parser)
    apps.set_defaults(func=lambda a: (apps.print_help(), 2)[1])
    for name, summary in APPS.items():
        module = load(name)
        p = asub.add_parser(name, help=summary, description=module.DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--out", required=True, help="run folder: config.json, result.json and the PNGs")
        p.add_argument("--quick", action="store_true",
                       help="the quick setting (≤ 5 CPU-minutes): " + _describe(module.SETTINGS.get("quick", {}), name))
        p.add_argument("--data-dir", help=DATA_DIR_HELP)
        group = p.add_argument_group("settings (default: the full setting; --dry-run prints them)")
        shared = {"seed": SEED_HELP, "device": DEVICE_HELP}
        for f in dataclasses.fields(module.Config):
            flag, old = _flag(name, f.name), "--" + f.name.replace("_", "-")
            typ = _flag_type(f)
            text = shared.get(f.name) or f.metadata.get("help")
            if flag == "--max-steps":
                text = f"{MAX_STEPS_HELP}: {text}" if text else MAX_STEPS_HELP
            if typ is bool:
                group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                   help=text)
            else:
                metavar = f.metadata.get("metavar") or (flag[2:].upper().replace("-", "_") if flag != old else None)
                group.add_argument(flag, dest=f.name, type=typ, default=None, metavar=metavar,
                                   choices=f.metadata.get("choices"), help=text)
            if flag != old:
                add_renamed(group, old, flag, f.name, type=typ)
        p.add_argument("--no-progress", action="store_true", help=PROGRESS_HELP)
        p.add_argument("--dry-run", action="store_true", help=DRY_RUN_HELP)
        p.set_defaults(func=cmd_app, app_name=name)


def _describe(values: dict, app: str = "") -> str:
    return ", ".join(f"{_flag(app, k)} {v}" for k, v in values.items()) or "as full"


def cmd_app(args) -> int:
    from bertgan.apps import load
    from bertgan.apps.common import resolve, run_app

    module = load(args.app_name)
    setting = "quick" if args.quick else "full"
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(module.Config)}
    cfg = resolve(args.app_name, setting, **overrides)
    if args.dry_run:
        print(json.dumps({"app": args.app_name, "setting": setting, **dataclasses.asdict(cfg)}, indent=2))
        return 0
    result = run_app(args.app_name, cfg, args.out, setting=setting, data_dir=args.data_dir,
                     progress=not args.no_progress)
    print(module.format_result(result))
    print(f"wrote {args.out}/result.json")
    return 0
