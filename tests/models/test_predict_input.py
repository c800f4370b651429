"""`predict` bad input: one line naming the flag, exit 2, no request sent to any model."""

from __future__ import annotations

from pathlib import Path

import pytest

from platformctl.errors import UsageError
from platformctl.usecases.predict import parse_input
from tests.models.conftest import Cluster
from tests.support.cli_main import run_main

IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"


def test_parse_input_builds_a_v2_tensor() -> None:
    assert parse_input("input-0:2,4:fp32=[[1,2,3,4],[5,6,7,8]]") == {
        "name": "input-0",
        "shape": [2, 4],
        "datatype": "FP32",
        "data": [[1, 2, 3, 4], [5, 6, 7, 8]],
    }
    assert parse_input("x:[3]:INT64=[1,2,3]")["shape"] == [3]
    assert parse_input("flag:1:BOOL=true")["data"] is True


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("input-0=[1]", "NAME:SHAPE:DATATYPE=JSON"),
        ("input-0:2,4:FP32", "NAME:SHAPE:DATATYPE=JSON"),
        ("input-0:2,x:FP32=[1]", "shape"),
        ("input-0:1,4:FLOAT=[[1,2,3,4]]", "datatype"),
        ("input-0:1,4:FP32=[[1,2,3,4]", "not valid JSON"),
        ("input-0:2,4:FP32=[[1,2,3,4]]", "holds 8 values but the data has 4"),
    ],
)
def test_parse_input_errors_name_the_problem(item: str, words: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_input(item)
    assert "--input" in str(info.value) and words in str(info.value)


@pytest.fixture
def models(cluster: Cluster) -> Cluster:
    for args in (
        ["v1m", "--format", "sklearn", "--storage-uri", IRIS_URI],
        ["v2m", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI],
    ):
        ran = run_main([*cluster.args, "deploy-model", *args], env=cluster.env)
        assert ran.exit_code == 0, ran.stderr
    return cluster


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["v2m", "--input", "input-0:2,4:FP32=[[1,2,3,4]]"], "--input"),
        (["v2m", "--input", "nonsense"], "--input"),
        (["v2m", "--data", "/nonexistent/body.json"], "--data"),
        (["v2m", "--data", "@TMP/not-json.txt"], "--data"),
        (["v1m", "--instances", "[[1,2,3,4]]", "--data", "@TMP/body.json"], "--instances"),
        (["v2m", "--instances", "[[1,2,3,4]]"], "--instances"),
        (["v1m", "--input", "input-0:1,4:FP32=[[1,2,3,4]]"], "--input"),
        (["v1m", "--instances", '{"a": 1}'], "--instances"),
        (["v1m", "--instances", "[1,"], "--instances"),
        (["v1m"], "--data"),
        (["v1m", "--metadata", "--ready"], "--ready"),
        (["v1m", "--ready", "--instances", "[[1]]"], "--instances"),
        (["v1m", "--protocol", "v3", "--instances", "[[1]]"], "--protocol"),
        (["v1m", "--ingress", "nohostport", "--instances", "[[1]]"], "--ingress"),
        (["v1m", "--instances", "[[1]]", "--cacert", "/nonexistent/ca.pem"], "--cacert"),
        (["missing", "--instances", "[[1]]"], "NAME"),
        (["Bad_Name", "--instances", "[[1]]"], "NAME"),
    ],
)
def test_bad_input_exit_2(models: Cluster, tmp_path: Path, args: list[str], flag: str) -> None:
    (tmp_path / "not-json.txt").write_text("not json")
    (tmp_path / "body.json").write_text('{"instances": [[1, 2, 3, 4]]}')
    args = [a.replace("@TMP", str(tmp_path)) for a in args]
    ran = run_main([*models.args, "predict", *args], env=models.env)
    assert ran.exit_code == 2, (ran.stdout, ran.stderr)
    first = ran.stderr.strip().splitlines()[0]
    assert first.startswith("error:") and flag in first, ran.stderr
    assert ran.stdout == ""
