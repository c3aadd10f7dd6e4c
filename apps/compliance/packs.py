"""Jurisdiction packs: one YAML file per jurisdiction, validated against pack_schema.json.

A pack is data, not code: adding a jurisdiction is adding `<code>.yaml` to a pack
directory (settings.COMPLIANCE_PACK_DIRS; the repository's own are in packs/). Every pack
is validated when the app starts (CompliancePacksConfig.ready), so a bad pack stops the
process with the file and the field path:

    PackInvalid: .../packs/gb.yaml: limits.increase_cooling_off_hours: -1 is less than the minimum of 0
"""

import copy
import importlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jsonschema import Draft202012Validator

SCHEMA_PATH = Path(__file__).with_name("pack_schema.json")
BUILTIN_PACK_DIR = Path(__file__).with_name("packs")


class PackInvalid(ImproperlyConfigured):
    """A pack file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Pack:
    code: str
    path: Path
    data: dict

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def label(self) -> str:
        return f"{self.data['name']} ({self.data['regulator']})"

    @property
    def source(self) -> str:
        return f"pack {self.path.name}"

    def value(self, path: str):
        return value_at(self.data, path)


def value_at(data: dict, path: str):
    node = data
    for part in path.split("."):
        node = node[part]
    return node


_validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _where(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def pack_load(path: Path) -> Pack:
    """Read and validate one pack file; PackInvalid names the file and the field path."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PackInvalid(f"{path}: not a readable YAML document: {exc}") from exc
    if not isinstance(data, dict):
        raise PackInvalid(f"{path}: (top level): a pack is a mapping of fields")
    errors = sorted(_validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PackInvalid(f"{path}: {_where(first)}: {first.message}{more}")
    _semantics_check(path, data)
    return Pack(code=data["code"], path=path, data=data)


def _semantics_check(path: Path, data: dict) -> None:
    """What the schema cannot say: cross-field rules and names that must resolve."""

    def bad(field: str, message: str):
        return PackInvalid(f"{path}: {field}: {message}")

    if path.stem.upper() != data["code"].replace("-", "_"):
        raise bad("code", f"{data['code']!r} does not match the file name {path.name!r}")
    try:
        ZoneInfo(data["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad("timezone", f"{data['timezone']!r} is not a known time zone") from exc
    scheme = data["national_id_scheme"]
    if scheme is not None:
        try:
            importlib.import_module(scheme)
        except ImportError as exc:
            raise bad("national_id_scheme", f"{scheme!r} is not a python-stdnum module") from exc
    if data["time_out"]["min_hours"] > data["time_out"]["max_hours"]:
        raise bad("time_out.min_hours", "is more than time_out.max_hours")
    for product, cap in data["stake_caps"].items():
        for i, band in enumerate(cap["age_bands"]):
            if band["min_age"] > band["max_age"]:
                raise bad(f"stake_caps.{product}.age_bands.{i}.min_age", "is more than max_age")
    required = set(data["limits"]["required_deposit_periods"])
    if required and data["limits"]["required_before"] is None:
        raise bad("limits.required_before", "must say when the required deposit limits are needed")


def pack_dirs() -> tuple[Path, ...]:
    return tuple(Path(d) for d in getattr(settings, "COMPLIANCE_PACK_DIRS", None) or [BUILTIN_PACK_DIR])


_lock = threading.Lock()
_registry: dict[tuple[Path, ...], dict[str, Pack]] = {}


def packs_load(dirs: tuple[Path, ...]) -> dict[str, Pack]:
    """Every pack in these directories, validated; a code defined twice is an error."""
    packs: dict[str, Pack] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise PackInvalid(f"{directory}: the compliance pack directory does not exist")
        for path in sorted(directory.glob("*.yaml")):
            pack = pack_load(path)
            if pack.code in packs:
                raise PackInvalid(f"{path}: code: {pack.code} is already defined by {packs[pack.code].path}")
            packs[pack.code] = pack
    if not packs:
        raise PackInvalid(f"no jurisdiction pack in {', '.join(map(str, dirs))}")
    return packs


def packs_all() -> dict[str, Pack]:
    """The packs of the configured directories (loaded once per set of directories)."""
    dirs = pack_dirs()
    packs = _registry.get(dirs)
    if packs is None:
        with _lock:
            packs = _registry.get(dirs) or packs_load(dirs)
            _registry[dirs] = packs
    return packs


def pack_get(code: str) -> Pack | None:
    return packs_all().get(code)


def pack_data(code: str) -> dict:
    """A deep copy of a pack's data (callers may change their copy)."""
    pack = pack_get(code)
    if pack is None:
        raise PackInvalid(f"no jurisdiction pack for {code!r}")
    return copy.deepcopy(pack.data)


def jurisdiction_choices() -> list[tuple[str, str]]:
    """(code, label) of every loaded pack: for forms and filters, never model choices."""
    return [(code, pack.label) for code, pack in sorted(packs_all().items())]
