"""Nothing is deserialised before it is verified, and prepared data are checked on load (issue 17).

Each test builds the hostile or damaged file itself: a pickle payload in CIFAR's real layout, a
valid IDX file with other labels, truncated and zero-byte downloads, prepared splits that disagree
with their info.json, and ImageNet weight caches whose content is not what the name promises.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import re
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from test_readers import prepare_test_files

from conftest import run_snakemake, tiny_config
from cvrepro.data.datasets.download import DataSourceError
from cvrepro.data.datasets.formats import add_to_tar, cifar_rows, idx_bytes
from cvrepro.data.datasets.prepare import prepare_dataset
from cvrepro.data.datasets.splits import load_split, write_info, write_split

TRUST = "CVREPRO_TRUST_WEIGHTS_CACHE"


class Payload:
    """Unpickling this creates `marker`: proof that the pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


# --- originals are verified before any reader opens them -----------------------------------------


def malicious_cifar10(path: Path, marker: Path) -> None:
    """CIFAR-10's real layout whose first batch is a payload instead of a dict of arrays."""
    good = {b"data": cifar_rows(np.zeros((2, 32, 32, 3), np.uint8)), b"labels": [0, 1]}
    with tarfile.open(path, "w:gz") as archive:
        add_to_tar(archive, "cifar-10-batches-py/data_batch_1", pickle.dumps({b"data": Payload(marker)}))
        for i in range(2, 6):
            add_to_tar(archive, f"cifar-10-batches-py/data_batch_{i}", pickle.dumps(good))
        add_to_tar(archive, "cifar-10-batches-py/test_batch", pickle.dumps(good))
        add_to_tar(archive, "cifar-10-batches-py/batches.meta", pickle.dumps({b"label_names": [b"a"] * 10}))


def test_placed_cifar_archive_with_a_payload_is_rejected_by_md5_before_reading(tmp_path):
    marker = tmp_path / "payload-ran"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    malicious_cifar10(downloads / "cifar-10-python.tar.gz", marker)
    with pytest.raises(DataSourceError) as error:
        prepare_dataset("cifar10", downloads, tmp_path / "prepared")
    message = one_line(error)
    assert (
        str(downloads / "cifar-10-python.tar.gz") in message and "c58f30108f718f92721af3b95e74349a" in message
    )
    assert not marker.exists() and not (tmp_path / "prepared").exists()


def test_cifar_payload_is_never_unpickled_even_when_its_md5_is_trusted(tmp_path):
    """The restricted unpickler is the second wall: a spec that trusts this very file still runs nothing."""
    marker = tmp_path / "payload-ran"
    malicious_cifar10(tmp_path / "cifar-10-python.tar.gz", marker)
    with pytest.raises(ValueError) as error:
        prepare_test_files("cifar10", tmp_path, tmp_path / "prepared")
    message = one_line(error)
    assert "cifar-10-python.tar.gz" in message and "cifar-10-batches-py/data_batch_1" in message
    assert re.search(r"refers to \w+\.open; only numpy arrays", message) and not marker.exists()


def python2_batch(raw: bytes, labels: list[int]) -> bytes:
    """A batch as CIFAR ships it: a Python 2 cPickle (protocol 2) of str keys and a uint8 array
    rebuilt by numpy.core.multiarray._reconstruct, assembled opcode by opcode."""

    def py2_str(value: bytes) -> bytes:  # SHORT_BINSTRING, Python 2's str
        return b"U" + bytes([len(value)]) + value

    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + py2_str(b"b") + b"\x87R"
        b"(K\x01K\x01M\x00\x0c\x86cnumpy\ndtype\n" + py2_str(b"u1") + b"K\x00K\x01\x87R"
        b"(K\x03"
        + py2_str(b"|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89"
        + b"T"
        + len(raw).to_bytes(4, "little")
        + raw
        + b"tb"
    )
    items = (
        py2_str(b"data") + array + py2_str(b"labels") + b"](" + b"".join(b"K" + bytes([v]) for v in labels)
    )
    return b"\x80\x02}(" + items + b"eu."


def test_python2_cifar_batches_load_through_the_restricted_unpickler(tmp_path):
    """The globals CIFAR's real batches name (numpy.core.multiarray._reconstruct, numpy.ndarray,
    numpy.dtype) are the ones allowed, under numpy 2's numpy._core as well."""
    images = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    batches = [python2_batch(cifar_rows(images[i : i + 1]).tobytes(), [i]) for i in range(2)]
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as archive:
        for i in range(1, 6):
            add_to_tar(archive, f"cifar-10-batches-py/data_batch_{i}", batches[0])
        add_to_tar(archive, "cifar-10-batches-py/test_batch", batches[1])
        add_to_tar(archive, "cifar-10-batches-py/batches.meta", pickle.dumps({b"label_names": [b"a"] * 10}))
    out = prepare_test_files("cifar10", tmp_path, tmp_path / "prepared")
    assert np.array_equal(load_split(out, "test").images[0], images[1])
    assert load_split(out, "train").labels.tolist() == [0] * 5


def test_cifar_batch_that_is_not_a_dict_of_arrays_is_named(tmp_path):
    with tarfile.open(tmp_path / "cifar-100-python.tar.gz", "w:gz") as archive:
        add_to_tar(archive, "cifar-100-python/train", pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match=r"cifar-100-python/train: expected a dict with b'data'") as error:
        prepare_test_files("cifar100", tmp_path, tmp_path / "prepared")
    one_line(error)


def test_valid_idx_file_with_shuffled_labels_is_not_fashion_mnist(tmp_path):
    labels = np.arange(10, dtype=np.uint8).repeat(3)
    for name, array in (
        ("train-images-idx3-ubyte.gz", np.zeros((30, 28, 28), np.uint8)),
        ("train-labels-idx1-ubyte.gz", np.random.default_rng(0).permutation(labels)),
        ("t10k-images-idx3-ubyte.gz", np.zeros((30, 28, 28), np.uint8)),
        ("t10k-labels-idx1-ubyte.gz", labels),
    ):
        (tmp_path / name).write_bytes(gzip.compress(idx_bytes(array)))
    with pytest.raises(DataSourceError, match="does not match the published md5") as error:
        prepare_dataset("fashion_mnist", tmp_path, tmp_path / "prepared")
    assert "train-images-idx3-ubyte.gz" in one_line(error)


def test_files_without_a_published_md5_are_checked_for_size_and_structure(tmp_path):
    images = np.zeros((4, 32, 32, 3), np.uint8)
    np.save(tmp_path / "cifar10.1_v6_data.npy", images)
    np.save(
        tmp_path / "cifar10.1_v6_labels.npy", np.array([1, 2, 3, 4], dtype=object)
    )  # np.save pickles objects
    with pytest.raises(DataSourceError, match="object") as error:
        prepare_dataset("cifar10_1", tmp_path, tmp_path / "prepared")
    assert "cifar10.1_v6_labels.npy" in one_line(error)
    (tmp_path / "train.zip").write_bytes(b"")
    with pytest.raises(DataSourceError, match="empty") as error:
        prepare_dataset("dogs_vs_cats", tmp_path, tmp_path / "prepared")
    assert "train.zip" in one_line(error)


# --- damaged downloads are set aside and fetched again; a good prepared directory survives ------


def test_zero_byte_download_is_set_aside_and_good_prepared_data_survive(tmp_path):
    import prepare as prepare_script

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    np.save(downloads / "cifar10.1_v6_data.npy", np.zeros((4, 32, 32, 3), np.uint8))
    np.save(downloads / "cifar10.1_v6_labels.npy", np.arange(4))
    out = tmp_path / "prepared"
    prepare_script.main("cifar10_1", downloads, out, {})
    (downloads / "cifar10.1_v6_data.npy").write_bytes(b"")
    with pytest.raises(DataSourceError) as error:
        prepare_script.main("cifar10_1", downloads, out, {})
    message = one_line(error)
    assert "cifar10.1_v6_data.npy" in message and "next run fetches it again" in message
    assert not (downloads / "cifar10.1_v6_data.npy").exists()  # so the download rule fetches it again
    assert (downloads / "cifar10.1_v6_data.npy.bad").exists()
    assert load_split(out, "test").labels.tolist() == [0, 1, 2, 3]


def test_truncated_archive_with_md5_is_set_aside_with_one_line(tmp_path):
    import prepare as prepare_script

    archive = tmp_path / "stl10_binary.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 100)  # a gzip header, then nothing usable
    with pytest.raises(DataSourceError, match="91f7769df0f17e558f3565bffb0c7dfb") as error:
        prepare_script.main("stl10", tmp_path, tmp_path / "prepared", {})
    assert str(archive) in one_line(error) and (tmp_path / "stl10_binary.tar.gz.bad").exists()


def test_prepare_dataset_called_directly_never_moves_the_callers_files(tmp_path):
    (tmp_path / "train.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataSourceError, match="not a zip archive"):
        prepare_dataset("dogs_vs_cats", tmp_path, tmp_path / "prepared")
    assert (tmp_path / "train.zip").exists()


@pytest.mark.workflow
def test_workflow_keeps_good_prepared_data_and_fetches_a_damaged_download_again(tmp_path):
    """Snakemake removes a rule's output before rerunning it; `prepare` must not lose a good one."""
    work, source = tmp_path / "work", tmp_path / "source"
    downloads = work / "resources" / "downloads" / "cifar10_1"
    for directory in (downloads, source):
        directory.mkdir(parents=True)
        np.save(directory / "cifar10.1_v6_data.npy", np.full((4, 32, 32, 3), 7, np.uint8))
        np.save(directory / "cifar10.1_v6_labels.npy", np.arange(4))
    config = {**tiny_config(), "datasets": {"cifar10_1": {"source_dir": str(source)}}}
    target = ("--cores", "1", "resources/prepared/cifar10_1")
    assert run_snakemake(work, config, *target).returncode == 0
    prepared = work / "resources" / "prepared" / "cifar10_1"
    time.sleep(1)  # a newer mtime: snakemake reruns prepare
    labels = downloads / "cifar10.1_v6_labels.npy"
    labels.write_bytes(labels.read_bytes()[:100])
    failed = run_snakemake(work, config, *target)
    assert failed.returncode != 0 and "moved aside" in failed.stderr + failed.stdout
    assert load_split(prepared, "test").labels.tolist() == [0, 1, 2, 3]
    # The good prepared data stay in use; once they must be made again, the download rule fetches
    # the file that was set aside (here: copies it from source_dir).
    shutil.rmtree(prepared)
    again = run_snakemake(work, config, *target)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "rule download:" in again.stdout + again.stderr and labels.stat().st_size > 100
    assert int(load_split(prepared, "test").images.max()) == 7


# --- prepared splits are checked against each other and info.json on load ------------------------


def prepared(tmp_path: Path, images=None, labels=None, classes: int = 10, count: int | None = None) -> Path:
    images = np.zeros((5, 8, 8, 3), np.uint8) if images is None else images
    labels = np.arange(5) % classes if labels is None else labels
    write_split(tmp_path, "test", images, np.arange(len(images)) % classes)
    np.save(tmp_path / "test" / "labels.npy", labels)  # as a bug or a hand edit would leave it
    write_info(tmp_path, "toy", [str(c) for c in range(classes)], {"test": count or len(images)}, {})
    return tmp_path


def test_label_outside_the_classes_is_rejected(tmp_path):
    data = prepared(tmp_path, labels=np.array([0, 1, 12, 3, 4]))
    with pytest.raises(ValueError, match=r"label 12 .*\[-1, 10\)") as error:
        load_split(data, "test")
    assert str(data / "test" / "labels.npy") in one_line(error)


def test_labels_one_entry_short_are_rejected(tmp_path):
    data = prepared(tmp_path, labels=np.arange(4))
    with pytest.raises(ValueError, match="4 labels for 5 images") as error:
        load_split(data, "test")
    assert "labels.npy" in one_line(error)


def test_info_json_count_must_match_the_arrays(tmp_path):
    data = prepared(tmp_path, count=6)
    with pytest.raises(ValueError, match="info.json says 6") as error:
        load_split(data, "test")
    assert "images.npy" in one_line(error)


@pytest.mark.parametrize(
    "labels, expected", [(np.arange(5, dtype=np.int32), "int32"), (np.arange(10).reshape(5, 2), r"\(5, 2\)")]
)
def test_labels_must_be_int64_vectors(tmp_path, labels, expected):
    data = prepared(tmp_path, labels=labels)
    with pytest.raises(ValueError, match=expected) as error:
        load_split(data, "test")
    assert "labels.npy" in one_line(error)


@pytest.mark.parametrize(
    "shape, dtype", [((5, 8, 8, 3), np.float32), ((5, 8, 8, 2), np.uint8), ((5, 64), np.uint8)]
)
def test_images_must_be_uint8_nhwc(tmp_path, shape, dtype):
    data = prepared(tmp_path)
    np.save(data / "test" / "images.npy", np.zeros(shape, dtype))
    with pytest.raises(ValueError, match="uint8 .N, H, W, C.") as error:
        load_split(data, "test")
    assert "images.npy" in one_line(error)


@pytest.mark.parametrize("mmap", [True, False])
def test_truncated_images_give_one_line_naming_the_file(tmp_path, mmap):
    data = prepared(tmp_path)
    path = data / "test" / "images.npy"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated") as error:
        load_split(data, "test", mmap=mmap)
    assert str(path) in one_line(error)


def test_damaged_info_json_is_named(tmp_path):
    data = prepared(tmp_path)
    (data / "info.json").write_text('{"name": "toy", "classes": [')
    with pytest.raises(ValueError, match="info.json") as error:
        load_split(data, "test")
    one_line(error)


def test_good_split_loads_memory_mapped_with_unlabelled_images(tmp_path):
    data = prepared(tmp_path, labels=np.array([-1, 0, 9, -1, 3]))
    split = load_split(data, "test")
    assert isinstance(split.images, np.memmap) and split.labels.tolist() == [-1, 0, 9, -1, 3]


def test_subset_index_outside_the_split_is_rejected(tmp_path):
    from cvrepro.data.tensors import load_subset

    data = prepared(tmp_path)
    for index, expected in (
        (np.array([0, 5]), r"\[0, 5\)"),
        (np.array([-1, 2]), r"\[0, 5\)"),
        (np.array([1, 1]), "twice"),
    ):
        np.save(tmp_path / "index.npy", index)
        with pytest.raises(ValueError, match=expected) as error:
            load_subset(data, "test", tmp_path / "index.npy", torch.device("cpu"))
        assert "index.npy" in one_line(error)


# --- ImageNet weights: the hash in torchvision's file name is checked before torch.load ----------


def weights_cache(tmp_path: Path, monkeypatch, content: bytes) -> Path:
    from cvrepro.nets.pretrained import imagenet_weights

    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    path = cache / imagenet_weights("resnet18", "DEFAULT").url.rsplit("/", 1)[-1]
    path.write_bytes(content)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(TRUST, raising=False)
    return path


def state_dict_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, buffer)
    return buffer.getvalue()


def test_cached_weights_with_other_content_are_refused(tmp_path, monkeypatch):
    from cvrepro.nets.pretrained import imagenet_state_dict

    path = weights_cache(tmp_path, monkeypatch, state_dict_bytes())
    with pytest.raises(RuntimeError, match="sha256") as error:
        imagenet_state_dict("resnet18", "DEFAULT")
    message = one_line(error)
    assert str(path) in message and "f37072fd" in message
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:8] in message


@pytest.mark.parametrize("trusted", [False, True])
def test_pickle_payload_in_the_weights_cache_is_never_run(tmp_path, monkeypatch, trusted):
    from cvrepro.nets.pretrained import imagenet_state_dict

    marker = tmp_path / "payload-ran"
    buffer = io.BytesIO()
    torch.save({"conv1.weight": Payload(marker)}, buffer)
    path = weights_cache(tmp_path, monkeypatch, buffer.getvalue())
    if trusted:  # the escape hatch skips the hash, never weights_only
        monkeypatch.setenv(TRUST, "test: a payload under torchvision's name")
    with pytest.raises(RuntimeError) as error:
        imagenet_state_dict("resnet18", "DEFAULT")
    assert str(path) in one_line(error) and not marker.exists()


def test_trusted_cache_loads_plain_tensors_and_says_so(tmp_path, monkeypatch, capsys):
    from cvrepro.nets.pretrained import imagenet_state_dict

    weights_cache(tmp_path, monkeypatch, state_dict_bytes())
    monkeypatch.setenv(TRUST, "tests write random weights under torchvision's names")
    state = imagenet_state_dict("resnet18", "DEFAULT", in_channels=1)
    assert state["conv1.weight"].shape == (64, 1, 7, 7)
    assert "not verified" in capsys.readouterr().err


def test_a_download_is_verified_before_it_is_loaded(tmp_path, monkeypatch):
    """Whatever lands in the cache (here a download that ignored the hash) is checked before loading."""
    from cvrepro.nets.pretrained import imagenet_state_dict

    seen = {}

    def careless_download(url, dst, hash_prefix=None, progress=True):
        seen["hash_prefix"] = hash_prefix
        Path(dst).write_bytes(state_dict_bytes())

    weights_cache(tmp_path, monkeypatch, b"").unlink()
    monkeypatch.setattr("torch.hub.download_url_to_file", careless_download)
    with pytest.raises(RuntimeError, match="sha256"):
        imagenet_state_dict("resnet18", "DEFAULT")
    assert seen["hash_prefix"] == "f37072fd"


def test_registry_files_all_have_a_check():
    """Every original has an md5, or a structure check for its kind of file."""
    from cvrepro.data.datasets.registry import DATASETS
    from cvrepro.data.datasets.verify import STRUCTURE_CHECKS

    for spec in DATASETS.values():
        for remote in spec.files:
            assert remote.md5 or Path(remote.filename).suffix in STRUCTURE_CHECKS, remote
