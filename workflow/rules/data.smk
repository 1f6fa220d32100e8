# Datasets: fetch each original file (local copy or download, checksum-verified, atomic), then
# prepare every split as memory-mappable uint8 arrays (see cvrepro/datasets/splits.py).

# Downloads run on the submitting host: compute nodes of a cluster often have no internet.
localrules:
    download,


rule download:
    output:
        "resources/downloads/{dataset}/{filename}",
    log:
        "resources/logs/download/{dataset}/{filename}.log",
    # No code=code_fingerprint(...): the output is the original file, checksum-verified, the
    # same bytes whatever code fetched it; a reader edit must not re-download gigabytes.
    params:
        search_dirs=get_source_dirs,
    retries: 2
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/download.py"


rule prepare:
    input:
        get_dataset_files,
    # update(): snakemake would delete a good prepared directory before rerunning prepare (e.g.
    # after a download changed) and lose it if prepare then fails on a damaged file; flagged, it is
    # backed up and restored on failure. prepare_dataset itself replaces it only when complete.
    output:
        update(directory("resources/prepared/{dataset}")),
    log:
        "resources/logs/prepare/{dataset}.log",
    params:
        code=code_fingerprint("../scripts/prepare.py"),
        download_dir="resources/downloads/{dataset}",
        options=get_dataset_options,
    benchmark:
        "resources/benchmarks/prepare/{dataset}.tsv"
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/prepare.py"
