"""test_abi: the binding's ctypes mirror of cellbatch.h agrees with the compiler — every struct
layout, every enum value, the version — and the header declares no value the binding lacks."""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess

import pytest

import cellbatch
from cellbatch import _native


@pytest.fixture(scope="module")
def dump() -> dict:
    out = subprocess.run([os.environ["CB_ABI_DUMP"]], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def header_enum(name: str) -> list:
    """The enumerators of typedef enum name in the public headers, in order."""
    for d in os.environ["CB_HEADERS"].split(":"):
        for h in os.listdir(d):
            with open(os.path.join(d, h), encoding="utf-8") as f:
                m = re.search(r"typedef enum %s \{(.*?)\} %s;" % (name, name), f.read(), re.S)
            if m:
                body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
                return re.findall(r"^\s*(CB_[A-Z_]+)", body, re.M)
    raise AssertionError("no enum %s in %s" % (name, os.environ["CB_HEADERS"]))


@pytest.mark.parametrize("cname,cls", [("cb_call", _native.Call), ("cb_result", _native.Result),
                                       ("cb_client_options", _native.ClientOptions)])
def test_struct_layouts(dump: dict, cname: str, cls: type) -> None:
    layout = dict(dump[cname])
    assert ctypes.sizeof(cls) == layout.pop("sizeof"), cname
    assert {f: getattr(cls, f).offset for f, _ in cls._fields_} == layout, cname


def test_enum_sizes(dump: dict) -> None:
    assert dump["sizeof_cb_err"] == ctypes.sizeof(ctypes.c_int)
    assert dump["sizeof_cb_fn"] == ctypes.sizeof(ctypes.c_int)


@pytest.mark.parametrize("enum,binding", [("cb_err", _native.CB_ERR), ("cb_fn", _native.CB_FN)])
def test_enum_values(dump: dict, enum: str, binding: dict) -> None:
    # abi_dump lists every enumerator of the header, and the binding has each with its value
    assert list(dump[enum]) == header_enum(enum)
    assert binding == dump[enum]


def test_error_code_enum_covers_cb_err(dump: dict) -> None:
    assert sorted(int(c) for c in cellbatch.ErrorCode) == sorted(dump["cb_err"].values())
    assert cellbatch.ErrorCode.BAD_REQUEST == dump["cb_err"]["CB_EBAD_REQUEST"]
    assert cellbatch.ErrorCode.UNREACHABLE == dump["cb_err"]["CB_EUNREACHABLE"]


def test_versions(dump: dict) -> None:
    assert _native.lib.cb_version_hex() == dump["version_hex"]
    assert _native.SOVERSION == dump["soversion"]
    assert _native.library_path.endswith(_native.SONAME)
    v = dump["version_hex"]
    assert cellbatch.__version__ == "%d.%d.%d" % (v >> 16, (v >> 8) & 255, v & 255)


def test_too_old_or_missing_library_is_a_clear_import_error(tmp_path) -> None:
    code = "import cellbatch"
    env = dict(os.environ, CELLBATCH_LIB=str(tmp_path / "libcellbatch.so.1"))
    p = subprocess.run(["/usr/bin/python3", "-c", code], env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "LibraryError" in p.stderr and "CELLBATCH_LIB" in p.stderr
    # a library without cb_version_hex (0.1's): libc stands in for one
    env["CELLBATCH_LIB"] = "libc.so.6"
    p = subprocess.run(["/usr/bin/python3", "-c", code], env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "needs 0.2.0 or newer" in p.stderr, p.stderr


def test_build_tree_library_found_without_env() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CELLBATCH_LIB"}
    p = subprocess.run(["/usr/bin/python3", "-c", "import cellbatch; print(cellbatch.library_path)"],
                       env=env, capture_output=True, text=True, check=True)
    assert os.path.realpath(p.stdout.strip()) == os.path.realpath(os.environ["CB_BUILD_LIB"])
