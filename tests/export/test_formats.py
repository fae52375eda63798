"""The formats table drives names, options, targets, converters and metadata I/O (parametrised over the registry)."""

from __future__ import annotations

import pytest

from hwnat.backends.registry import get_runtime
from hwnat.config.targets import load_target
from hwnat.errors import ConfigError
from hwnat.export.formats import PRECISIONS, format_names, get_format, parse_formats
from hwnat.export.metadata import _IO
from hwnat.export.options import FORMAT_OPTIONS, ExportOptions, make_options, option_flag
from hwnat.export.runners import LOADERS

RUNTIME_OF_FAMILY = {"torch": "torch", "onnx": "ort", "openvino": "openvino", "tensorrt": "tensorrt"}


def test_the_table_lists_every_route() -> None:
    assert format_names() == ["torch", "onnx", "onnx-int8", "openvino", "openvino-fp16", "openvino-int8",
                              "tensorrt", "tensorrt-fp16", "tensorrt-int8"]


@pytest.mark.parametrize("name", format_names())
def test_format_row_is_complete(name: str) -> None:
    fmt = get_format(name)
    assert fmt.precision in PRECISIONS
    assert fmt.family in _IO and fmt.family in LOADERS
    assert load_target(fmt.target).runtime == RUNTIME_OF_FAMILY[fmt.family]
    get_runtime(RUNTIME_OF_FAMILY[fmt.family])
    assert callable(fmt.load_converter())
    assert fmt.options <= set(FORMAT_OPTIONS)
    assert "{stem}" in fmt.artifact and fmt.artifact_name("net").startswith("net")
    assert fmt.is_dir == bool(fmt.model_file)
    assert fmt.to_dict()["name"] == name


def test_artifact_names_are_unique() -> None:
    names = [get_format(n).artifact_name("x") for n in format_names()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", format_names())
@pytest.mark.parametrize("option", FORMAT_OPTIONS)
def test_options_are_checked_against_the_table(name: str, option: str) -> None:
    fmt = get_format(name)
    value = {"opset": 13, "simplify": False, "calib_images": 10, "max_drop": 2.0, "atol": 1e-3}[option]
    if option in fmt.options:
        assert getattr(make_options([fmt], {option: value}), option) == value
    else:
        with pytest.raises(ConfigError, match=f"{name!r} does not support {option_flag(option)}") as info:
            make_options([fmt], {option: value})
        takers = [n for n in format_names() if option in get_format(n).options]
        assert ", ".join(takers) in str(info.value)


def test_an_option_applies_when_some_chosen_format_takes_it() -> None:
    opts = make_options(parse_formats("onnx,openvino-int8"), {"calib_images": 50})
    assert opts.calib_images == 50


def test_unknown_format_has_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"unknown format 'onx' \(did you mean 'onnx'\?\); allowed: .*openvino"):
        parse_formats("onx")
    assert [f.name for f in parse_formats("all")] == format_names()
    assert [f.name for f in parse_formats("onnx, onnx,openvino")] == ["onnx", "openvino"]


@pytest.mark.parametrize("kwargs, message", [
    ({"opset": 9}, "opset must lie in"), ({"calib_images": 0}, "calib_images must be"),
    ({"max_drop": -1}, "max_drop must lie"), ({"atol": 0}, "atol must be positive"),
])
def test_option_ranges(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExportOptions(**kwargs)


def test_availability_names_the_install() -> None:
    ok, reason = get_format("tensorrt").availability()
    if not ok:
        assert "pip install 'hwnat[tensorrt]'" in reason
