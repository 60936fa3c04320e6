"""Pipeline configuration: YAML -> schema validation (with defaults) -> frozen dataclasses.

The JSON schema is ``workflow/schemas/config.schema.yaml`` (the Snakefile validates against the
same file). There is no global config object: stages receive the sections they need.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import os
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, TypeVar

import jsonschema
import yaml

from eatnas.errors import ConfigError

T = TypeVar("T")


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    """The pipeline config schema."""
    text = resources.files("eatnas").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _with_defaults(validator_cls):
    validate_props = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema_):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if prop not in instance:
                    default = _default_of(validator, sub)
                    if default is not _MISSING:
                        instance[prop] = copy.deepcopy(default)
        yield from validate_props(validator, properties, instance, schema_)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


_MISSING = object()


def _default_of(validator, sub: dict) -> Any:
    if "default" in sub:
        return sub["default"]
    if "$ref" in sub:
        resolved = validator.resolver.resolve(sub["$ref"])[1] if hasattr(validator, "resolver") else None
        if resolved and "default" in resolved:
            return resolved["default"]
    return _MISSING


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _explain(error: jsonschema.ValidationError, source: str) -> str:
    key = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        bad = extra[0] if extra else "?"
        full = f"{key}.{bad}" if key != "(top level)" else bad
        close = difflib.get_close_matches(bad, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(allowed)}"
        return f"{source}: unknown config key {full!r}{hint}"
    if error.validator == "type":
        return (f"{source}: config key {key!r} must be of type {error.validator_value} "
                f"(got {error.instance!r}); fix the value")
    if error.validator == "enum":
        return f"{source}: config key {key!r} is {error.instance!r}; choose one of {error.validator_value}"
    if error.validator == "required":
        return f"{source}: config section {key!r} is missing a required key: {error.message}"
    return f"{source}: config key {key!r}: {error.message}"


def validate(cfg: dict, source: str = "config") -> dict:
    """Validate ``cfg`` in place against the schema, filling defaults; raise ConfigError naming the key."""
    validator_cls = _with_defaults(jsonschema.validators.validator_for(schema()))
    validator = validator_cls(schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        raise ConfigError(_explain(errors[0], source))
    # a second pass fills defaults of sections that were created by the first one
    errors = list(validator_cls(schema()).iter_errors(cfg))
    if errors:
        raise ConfigError(_explain(errors[0], source))
    return cfg


def load_config(path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None) -> dict:
    """Read a YAML config (or start from an empty one), apply dotted ``overrides``, validate."""
    cfg: dict = {}
    source = "config"
    if path is not None:
        p = Path(path)
        source = str(p)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist; pass an existing YAML file (e.g. config/config.yaml)")
        try:
            cfg = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from None
        if not isinstance(cfg, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of config keys")
    for dotted, value in (overrides or {}).items():
        set_dotted(cfg, dotted, value)
    return validate(cfg, source)


def set_dotted(cfg: dict, dotted: str, value: Any) -> None:
    node = cfg
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def dump_config(cfg: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write a resolved config (with code version) beside results."""
    from eatnas.utils.io import write_text_atomic
    from eatnas.version import code_version

    text = f"# resolved eatnas config, code version {code_version()}\n" + yaml.safe_dump(dict(cfg), sort_keys=False)
    write_text_atomic(path, text)


def from_dict(cls: type[T], data: Mapping[str, Any] | None, where: str = "") -> T:
    """Build a (frozen) dataclass from a mapping; nested dataclass fields are built recursively.

    Unknown keys raise ConfigError naming ``where.key``; missing keys take the dataclass default.
    """
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in names]
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown config key {_join(where, unknown[0])!r}{hint}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        ftype = hints[f.name]
        if dataclasses.is_dataclass(ftype) and isinstance(value, Mapping):
            value = from_dict(ftype, value, _join(where, f.name))
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def to_dict(obj: Any) -> dict:
    """Dataclass -> plain dict (tuples as lists), for JSON/YAML output."""
    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return conv(obj)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
