"""What a study's real run will fetch (README "Before a long run"): every original file of every
dataset it reads and every set of ImageNet weights it loads, with its size, where it comes from,
whether a copy is already present, the total to download and the disk the run will need.

`fetch_items(study, config)` lists them while Snakemake parses the workflow (no torch), for the
study as written (a rehearsal's `rehearsal_of`). `with_state(items)` looks on disk (the real run's
data directory, `datasets.<name>.source_dir`, the dataset's usual local directories, torch's
TORCH_HOME cache) and, for what must still be downloaded, whether its host answers;
`fetch_markdown` and `fetch_lines` say it in the rehearsal's REPORT.md and in `make why`.

CVREPRO_OFFLINE=1 treats every host as unreachable without asking (an air-gapped cluster's login
node, where a connection attempt may hang; tests).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

from cvrepro.data.datasets.registry import DATASETS, source_dirs
from cvrepro.nets.imagenet_files import hub_checkpoints_dir, weights_file
from cvrepro.study import REAL, Study, paths
from cvrepro.study.names import IMAGENET_SOURCES

OFFLINE_ENV = "CVREPRO_OFFLINE"
PROBE_SECONDS = 3.0  # how long a host may take to accept a connection before it counts as unreachable


def study_datasets(study: Study) -> list[str]:
    """Every dataset the study reads: its subsets' and its shift sets' published corruptions."""
    used = {subset["dataset"] for subset in study.subsets.values()}
    used |= {s["source"] for s in study.shift_sets.values() if s["source"] != "generated"}
    return sorted(used)


def study_weights(study: Study) -> list[tuple[str, str]]:
    """(architecture, weights version) of every set of ImageNet weights the study loads: runs
    with `init: imagenet` and feature sources imagenet_<arch> at the study's `imagenet_weights`,
    figures with their own `imagenet: {arch, weights}` (S2's activation maps)."""
    version = study.spec["imagenet_weights"]
    archs = {run["model"]["arch"] for run in study.runs.values() if run["init"] == "imagenet"}
    sources = [probe["features"] for probe in study.probes.values()]
    sources += [figure.get("features") for figure in study.figures.values()]
    archs |= {s.removeprefix("imagenet_") for s in sources if s in IMAGENET_SOURCES}
    pairs = {(arch, version) for arch in archs}
    pairs |= {
        (f["imagenet"]["arch"], f["imagenet"]["weights"]) for f in study.figures.values() if f.get("imagenet")
    }
    return sorted(pairs)


def fetch_items(study: Study, config: dict) -> list[dict]:
    """The files the real run of `study` (as written) needs from outside, without their state."""
    study = study.rehearsal_of or study
    items = []
    for name in study_datasets(study):
        spec = DATASETS[name]
        for remote in spec.files:
            items.append(
                {
                    "kind": "dataset",
                    "what": name,
                    "filename": remote.filename,
                    "url": remote.url,
                    "size": remote.size,
                    "dest": paths.rooted(paths.DOWNLOAD, REAL).format(dataset=name, filename=remote.filename),
                    "search": [*source_dirs(config, name), *spec.local_dirs],
                    "todo": f"place it in {{dest}} or set datasets.{name}.source_dir to its directory",
                    "homepage": spec.homepage,
                }
            )
    for arch, version in study_weights(study):
        weights = weights_file(arch, version)
        items.append(
            {
                "kind": "weights",
                "what": f"{arch} {weights.version}",
                "filename": weights.filename,
                "url": weights.url,
                "size": weights.size,
                "dest": None,  # TORCH_HOME's cache, looked up where the job runs
                "search": [],
                "todo": "place it in {dest} (or point TORCH_HOME at a cache that has it)",
                "homepage": "https://pytorch.org/vision/stable/models.html",
            }
        )
    return items


def prepared_bytes(study: Study, side_of: dict[str, tuple[int, int]]) -> int:
    """The prepared datasets' size: every split as uint8 (N, side, side, channels)."""
    study = study.rehearsal_of or study
    total = 0
    for name in study_datasets(study):
        side, channels = side_of[name]
        total += sum(DATASETS[name].splits.values()) * side * side * channels
    return total


def with_state(items: list[dict], environ: dict[str, str] | None = None) -> list[dict]:
    """Each item with `state` (present | found | download | manual | offline) and `path` (where
    it is or will be): a copy in the data directory or TORCH_HOME is present (both are written
    only after their checksum matched); one in a search directory is found (copied and verified
    by the download job); else it must be downloaded, by hand where there is no URL, and an
    unreachable host makes it `offline`."""
    env = os.environ if environ is None else environ
    offline = env.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")
    hosts: dict[str, bool] = {}
    out = []
    for item in items:
        dest = item["dest"] or str(hub_checkpoints_dir(env) / item["filename"])
        found = next(
            (
                str(Path(d) / item["filename"])
                for d in item["search"]
                if (Path(d) / item["filename"]).is_file()
            ),
            None,
        )
        if Path(dest).is_file():
            state, where = "present", dest
        elif found:
            state, where = "found", found
        elif item["url"] is None:
            state, where = "manual", dest
        else:
            url = urlsplit(item["url"])
            host = url.hostname or ""
            if host not in hosts:
                hosts[host] = not offline and reachable(
                    host, url.port or (443 if url.scheme == "https" else 80), env
                )
            state, where = ("download" if hosts[host] else "offline"), dest
        out.append({**item, "state": state, "path": where, "dest": dest})
    return out


def reachable(host: str, port: int, environ: dict[str, str]) -> bool:
    """Whether `host` accepts a connection on `port` within PROBE_SECONDS; True behind a proxy
    (the download goes through it, which a direct connection cannot test)."""
    if any(environ.get(key) for key in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")):
        return True
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)  # name resolution has no timeout of its own
    thread.start()
    thread.join(PROBE_SECONDS + 0.5)
    return bool(result and result[0])


STATE_WORDS = {
    "present": "present",
    "found": "found locally (copied and verified by the download job)",
    "download": "to download",
    "manual": "**cannot be downloaded automatically**",
    "offline": "**to download, but its host is unreachable from here**",
}


def problems(items: list[dict]) -> list[str]:
    """One line per file the real run cannot get by itself: what it is and what to do."""
    lines = []
    for item in items:
        todo = item["todo"].format(dest=item["dest"])
        if item["state"] == "manual":
            lines.append(
                f"{item['filename']} ({item['what']}) cannot be downloaded automatically ({item['homepage']}; a login is needed): download it by hand and {todo}"
            )
        elif item["state"] == "offline":
            lines.append(
                f"{item['filename']} ({item['what']}, {size_text(item['size'])}) is not here and {urlsplit(item['url']).hostname} cannot be reached: fetch {item['url']} elsewhere and {todo}"
            )
    return lines


def download_bytes(items: list[dict]) -> int:
    """Bytes still to download, automatically or by hand."""
    return sum(i["size"] or 0 for i in items if i["state"] in ("download", "manual", "offline"))


def fetch_markdown(items: list[dict], prepared: int, results: int | None = None) -> str:
    """The "What the real run will fetch" section: problems first, then every file."""
    lines = [f"- **{line}**" for line in problems(items)]
    if lines:
        lines.append("")
    lines += [
        "| file | for | size | source | state |",
        "|---|---|---:|---|---|",
    ]
    for item in items:
        source = item["url"] or f"by hand ({item['homepage']})"
        state = STATE_WORDS[item["state"]] + (
            f": `{item['path']}`" if item["state"] in ("present", "found") else ""
        )
        lines.append(
            f"| `{item['filename']}` | {item['what']} | {size_text(item['size'])} | {source} | {state} |"
        )
    downloads = sum(i["size"] or 0 for i in items if i["kind"] == "dataset")
    need = downloads + prepared + (results or 0)
    lines += [
        "",
        f"To download: **{size_text(download_bytes(items))}**. Disk the real run needs: about **{size_text(need)}** "
        f"(original files {size_text(downloads)}, prepared data {size_text(prepared)}"
        + (f", results about {size_text(results)}" if results is not None else "")
        + "; ImageNet weights live in TORCH_HOME's cache).",
    ]
    return "\n".join(lines) + "\n"


def fetch_lines(items: list[dict]) -> list[str]:
    """The same for a console: one line per file, then the totals and the problems (as "- "
    items, so that they never read as the job lines of `make why`, which are indented)."""
    lines = [
        f"- {item['filename']} ({item['what']}, {size_text(item['size'])}): {STATE_WORDS[item['state']].replace('**', '')}"
        + (f" {item['path']}" if item["state"] in ("present", "found") else "")
        for item in items
    ]
    lines.append(f"- to download: {size_text(download_bytes(items))}")
    return lines + [f"- problem: {line}" for line in problems(items)]


def size_text(size: int | None) -> str:
    if size is None:
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"
