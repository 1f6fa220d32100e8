"""tiny_imagenet: Tiny-ImageNet (cs231n), 64x64 colour images of 200 ImageNet classes: one zip of
JPEGs (train/<wnid>/images/, val/images/ listed in val/val_annotations.txt) with wnids.txt and
words.txt. Its labelled val set is the dataset's `test` split."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import numpy as np

ARCHIVE = "tiny-imagenet-200.zip"
ROOT = "tiny-imagenet-200"
# wnids.txt (sorted). Its words.txt (82,115 WordNet entries) is not on this machine, so the
# rehearsal's synthetic words.txt names each class by its wnid.
WNIDS = (
    "n01443537 n01629819 n01641577 n01644900 n01698640 n01742172 n01768244 n01770393 n01774384 "
    "n01774750 n01784675 n01855672 n01882714 n01910747 n01917289 n01944390 n01945685 n01950731 "
    "n01983481 n01984695 n02002724 n02056570 n02058221 n02074367 n02085620 n02094433 n02099601 "
    "n02099712 n02106662 n02113799 n02123045 n02123394 n02124075 n02125311 n02129165 n02132136 "
    "n02165456 n02190166 n02206856 n02226429 n02231487 n02233338 n02236044 n02268443 n02279972 "
    "n02281406 n02321529 n02364673 n02395406 n02403003 n02410509 n02415577 n02423022 n02437312 "
    "n02480495 n02481823 n02486410 n02504458 n02509815 n02666196 n02669723 n02699494 n02730930 "
    "n02769748 n02788148 n02791270 n02793495 n02795169 n02802426 n02808440 n02814533 n02814860 "
    "n02815834 n02823428 n02837789 n02841315 n02843684 n02883205 n02892201 n02906734 n02909870 "
    "n02917067 n02927161 n02948072 n02950826 n02963159 n02977058 n02988304 n02999410 n03014705 "
    "n03026506 n03042490 n03085013 n03089624 n03100240 n03126707 n03160309 n03179701 n03201208 "
    "n03250847 n03255030 n03355925 n03388043 n03393912 n03400231 n03404251 n03424325 n03444034 "
    "n03447447 n03544143 n03584254 n03599486 n03617480 n03637318 n03649909 n03662601 n03670208 "
    "n03706229 n03733131 n03763968 n03770439 n03796401 n03804744 n03814639 n03837869 n03838899 "
    "n03854065 n03891332 n03902125 n03930313 n03937543 n03970156 n03976657 n03977966 n03980874 "
    "n03983396 n03992509 n04008634 n04023962 n04067472 n04070727 n04074963 n04099969 n04118538 "
    "n04133789 n04146614 n04149813 n04179913 n04251144 n04254777 n04259630 n04265275 n04275548 "
    "n04285008 n04311004 n04328186 n04356056 n04366367 n04371430 n04376876 n04398044 n04399382 "
    "n04417672 n04456115 n04465501 n04486054 n04487081 n04501370 n04507155 n04532106 n04532670 "
    "n04540053 n04560804 n04562935 n04596742 n04597913 n06596364 n07579787 n07583066 n07614500 "
    "n07615774 n07695742 n07711569 n07715103 n07720875 n07734744 n07747607 n07749582 n07753592 "
    "n07768694 n07871810 n07873807 n07875152 n07920052 n09193705 n09246464 n09256479 n09332890 "
    "n09428293 n12267677"
).split()
assert len(WNIDS) == 200


def read(files: dict[str, Path], out_dir: Path) -> dict:
    import zipfile

    import numpy as np

    from cvrepro.data.datasets.readers import decode
    from cvrepro.data.datasets.splits import write_split

    with zipfile.ZipFile(files[ARCHIVE]) as archive:
        wnids = sorted(archive.read(f"{ROOT}/wnids.txt").decode().split())  # ImageFolder's order
        words = dict(
            line.split("\t", 1)
            for line in archive.read(f"{ROOT}/words.txt").decode().splitlines()
            if "\t" in line
        )
        label = {wnid: i for i, wnid in enumerate(wnids)}
        names = archive.namelist()
        train = sorted(n for n in names if n.startswith(f"{ROOT}/train/") and n.endswith(".JPEG"))
        write_split(
            out_dir,
            "train",
            np.stack([decode(archive.read(n)) for n in train]),
            np.array([label[n.split("/")[2]] for n in train]),
        )
        annotations = [
            line.split("\t")
            for line in archive.read(f"{ROOT}/val/val_annotations.txt").decode().splitlines()
            if line
        ]
        write_split(
            out_dir,
            "test",
            np.stack([decode(archive.read(f"{ROOT}/val/images/{row[0]}")) for row in annotations]),
            np.array([label[row[1]] for row in annotations]),
        )
    return {"classes": [words.get(w, w).split(",")[0].strip() for w in wnids], "wnids": wnids}


def write_archive(
    path: Path, words: dict[str, str], train: list[tuple[np.ndarray, str]], val: list[tuple[np.ndarray, str]]
) -> None:
    """tiny-imagenet-200.zip: wnids.txt, words.txt, train/<wnid>/images/<wnid>_<i>.JPEG with
    <wnid>_boxes.txt, val/images/val_<i>.JPEG listed in val/val_annotations.txt. `words`: wnid ->
    its words (every class; wnids.txt lists them in this order); train and val: (image, wnid)."""
    from cvrepro.data.datasets.formats import jpeg_bytes, zip_bytes

    members = [
        (f"{ROOT}/wnids.txt", ("\n".join(words) + "\n").encode()),
        (f"{ROOT}/words.txt", "".join(f"{w}\t{text}\n" for w, text in words.items()).encode()),
    ]
    seen: dict[str, int] = {}
    for image, wnid in train:
        i = seen[wnid] = seen.get(wnid, -1) + 1
        members.append((f"{ROOT}/train/{wnid}/images/{wnid}_{i}.JPEG", jpeg_bytes(image)))
    for wnid in seen:
        members.append((f"{ROOT}/train/{wnid}/{wnid}_boxes.txt", b""))
    annotations = []
    for i, (image, wnid) in enumerate(val):
        members.append((f"{ROOT}/val/images/val_{i}.JPEG", jpeg_bytes(image)))
        side = image.shape[0]
        annotations.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t{side - 1}\t{side - 1}\n")
    members.append((f"{ROOT}/val/val_annotations.txt", "".join(annotations).encode()))
    Path(path).write_bytes(zip_bytes(members))


def write_synthetic(filename: str, dest: Path) -> None:
    from cvrepro.data.datasets import synthetic

    split = {
        s: [(picture, WNIDS[c]) for picture, c in zip(*synthetic.split("tiny_imagenet", s), strict=True)]
        for s in ("train", "test")
    }
    write_archive(dest, {wnid: wnid for wnid in WNIDS}, split["train"], split["test"])


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="tiny_imagenet",
        # md5 as used by public TinyImageNet loaders (e.g. the VisionDataset ports of
        # lvyilin/pytorch-fgvc-dataset); cs231n publishes none itself.
        files=(
            RemoteFile(
                ARCHIVE,
                "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
                "90528d7ca1a48142e341f4ef8d21d0de",
                size=248100043,
            ),
        ),
        splits={"train": 100000, "test": 10000},
        num_classes=200,
        balanced=True,
        prepare="tiny_imagenet",
        homepage="http://cs231n.stanford.edu/",
        notes="64x64; `test` is the labelled val set; classes in sorted-wnid order (torchvision ImageFolder's).",
    ),
    read=read,
    # The reader sorts the training JPEGs by name: class-major.
    rehearsal=Rehearsal(
        side=64, per_class={"train": 2, "test": 1}, class_major=("train",), write=write_synthetic
    ),
)
