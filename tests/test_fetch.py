"""Fetching original files: verified local copies, atomic downloads, one-line errors."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import heavy_imports
from cvrepro.data.datasets.download import DataSourceError, fetch
from cvrepro.data.datasets.registry import get_dataset
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

PAYLOAD = b"cvrepro test payload " * 1000
MD5 = hashlib.md5(PAYLOAD).hexdigest()


def spec_with(url: str | None, md5: str | None = MD5, content_md5: str | None = None) -> DatasetSpec:
    return replace(
        get_dataset("cifar10"),
        name="toy",
        files=(RemoteFile("toy.bin", url, md5, content_md5),),
        local_dirs=(),
    )


@pytest.fixture
def server(tmp_path):
    """A bounded HTTP server on 127.0.0.1 serving tmp_path/served; stopped after the test."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_copy_is_verified_and_copied(tmp_path):
    source = tmp_path / "mine"
    source.mkdir()
    (source / "toy.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "downloads" / "toy.bin"
    fetch(spec_with(url=None), "toy.bin", dest, [source])
    assert dest.read_bytes() == PAYLOAD and (source / "toy.bin").exists()


def test_local_copy_with_wrong_md5_fails_and_keeps_the_users_file(tmp_path):
    (tmp_path / "toy.bin").write_bytes(PAYLOAD + b"x")
    dest = tmp_path / "downloads" / "toy.bin"
    with pytest.raises(DataSourceError) as info:
        fetch(spec_with(url=None), "toy.bin", dest, [tmp_path])
    message = str(info.value)
    assert "\n" not in message and MD5 in message and hashlib.md5(PAYLOAD + b"x").hexdigest() in message
    assert (tmp_path / "toy.bin").exists() and not dest.exists()


def test_local_copy_without_a_published_md5_is_checked_for_structure(tmp_path):
    """CIFAR-10.1 publishes no md5: a truncated or empty copy is refused before it is copied."""
    spec = get_dataset("cifar10_1")
    source = tmp_path / "source"
    source.mkdir()
    np.save(source / "cifar10.1_v6_data.npy", np.zeros((4, 32, 32, 3), np.uint8))
    (source / "cifar10.1_v6_labels.npy").write_bytes(b"")
    dest = tmp_path / "downloads"
    fetch(spec, "cifar10.1_v6_data.npy", dest / "cifar10.1_v6_data.npy", [source])
    with pytest.raises(DataSourceError, match="cifar10.1_v6_labels.npy .a local copy.: the file is empty"):
        fetch(spec, "cifar10.1_v6_labels.npy", dest / "cifar10.1_v6_labels.npy", [source])
    data = source / "cifar10.1_v6_data.npy"
    data.write_bytes(data.read_bytes()[:-1])
    with pytest.raises(DataSourceError, match="truncated"):
        fetch(spec, "cifar10.1_v6_data.npy", dest / "again.npy", [source])
    assert sorted(p.name for p in dest.iterdir()) == ["cifar10.1_v6_data.npy"]


def test_recompressed_gzip_is_accepted_by_its_content_md5(tmp_path):
    content = b"idx content" * 100
    (tmp_path / "toy.bin").write_bytes(gzip.compress(content, compresslevel=1))
    spec = spec_with(url=None, md5="0" * 32, content_md5=hashlib.md5(content).hexdigest())
    fetch(spec, "toy.bin", tmp_path / "out" / "toy.bin", [tmp_path])
    assert gzip.decompress((tmp_path / "out" / "toy.bin").read_bytes()) == content


def test_download_from_a_local_server_is_verified(server, tmp_path):
    root, url = server
    (root / "toy.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "downloads" / "toy.bin"
    fetch(spec_with(f"{url}/toy.bin"), "toy.bin", dest)
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in dest.parent.iterdir()] == ["toy.bin"]  # no temporary left behind


def test_corrupt_download_is_rejected_and_removed(server, tmp_path):
    root, url = server
    (root / "toy.bin").write_bytes(b"truncated")
    dest = tmp_path / "downloads" / "toy.bin"
    with pytest.raises(DataSourceError, match=f"does not match the published md5 {MD5}"):
        fetch(spec_with(f"{url}/toy.bin"), "toy.bin", dest)
    assert list(dest.parent.iterdir()) == []


def test_unreachable_url_names_file_url_and_destination(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/toy.bin"
    dest = tmp_path / "downloads" / "toy.bin"
    with pytest.raises(DataSourceError) as info:
        fetch(spec_with(url), "toy.bin", dest)
    message = str(info.value)
    assert "\n" not in message
    assert (
        "toy.bin" in message
        and url in message
        and str(dest) in message
        and "datasets.toy.source_dir" in message
    )


def test_a_stale_partial_download_is_not_taken_for_a_finished_one(server, tmp_path):
    root, url = server
    (root / "toy.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "downloads" / "toy.bin"
    dest.parent.mkdir()
    (dest.parent / ".toy.bin.abc.part").write_bytes(b"half")  # left by a killed download
    fetch(spec_with(f"{url}/toy.bin"), "toy.bin", dest)
    assert dest.read_bytes() == PAYLOAD


def test_kaggle_archive_without_a_copy_says_where_to_put_it(tmp_path):
    dest = tmp_path / "resources/downloads/dogs_vs_cats/train.zip"
    with pytest.raises(DataSourceError) as info:
        fetch(get_dataset("dogs_vs_cats"), "train.zip", dest)
    message = str(info.value)
    assert "kaggle.com" in message and "login" in message and str(dest) in message
    assert "datasets.dogs_vs_cats.source_dir" in message


def test_registry_is_complete():
    """One module per built-in dataset (cvrepro/data/builtin), found by discovery: their names
    are the study schema's list, each spec named as its module."""
    from cvrepro.config.schema import load_schema
    from cvrepro.data.builtin import BUILTIN
    from cvrepro.data.datasets.registry import DATASETS

    subset = load_schema("study.schema.yaml")["definitions"]["subset"]["properties"]["dataset"]
    assert sorted(BUILTIN) == sorted(subset["x-builtin-datasets"])
    assert {name: DATASETS[name] for name in BUILTIN} == {name: kind.spec for name, kind in BUILTIN.items()}
    for name, kind in BUILTIN.items():
        assert kind.spec.name == kind.spec.prepare == name
        assert callable(kind.read) and callable(kind.rehearsal.write), name
    for spec in DATASETS.values():
        for remote in spec.files:
            assert remote.url is None or remote.url.startswith("http"), remote
            assert remote.md5 is None or len(remote.md5) == 32, remote
    missing_md5 = sorted(spec.name for spec in DATASETS.values() for f in spec.files if f.md5 is None)
    assert missing_md5 == [
        "cifar10_1",
        "cifar10_1",
        "dogs_vs_cats",
    ]  # no published checksum; checked on prepare
    with pytest.raises(KeyError, match="unknown dataset 'imagenet'; known: cifar10"):
        get_dataset("imagenet")


def test_the_dataset_registry_loads_without_numpy_or_pil():
    """Snakemake reads it while parsing the workflow: the built-in modules import their readers'
    and writers' libraries inside them."""
    assert (
        heavy_imports("from cvrepro.data.datasets.registry import DATASETS", ("numpy", "PIL", "torch")) == []
    )


def test_fetch_copies_fashion_mnist_from_the_debian_dir(tmp_path):
    """The download rule's call: no source_dir, Debian's directory found by the registry."""
    from conftest import FMNIST_DIR

    if not (FMNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST Debian package not installed")
    dest = tmp_path / "t10k-labels-idx1-ubyte.gz"
    assert fetch(get_dataset("fashion_mnist"), dest.name, dest, []) == dest
    assert Path(dest).stat().st_size == (FMNIST_DIR / "t10k-labels-idx1-ubyte.gz").stat().st_size
