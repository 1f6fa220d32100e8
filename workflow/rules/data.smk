# Datasets: fetch each original file (local copy or download, checksum-verified, atomic), then
# prepare every split as memory-mappable uint8 arrays (see cvrepro/data/datasets/splits.py).

from cvrepro.data.sources import is_declared


# Downloads run on the submitting host: compute nodes of a cluster often have no internet.
localrules:
    download,


rule download:
    output:
        paths.DOWNLOAD,
    log:
        "<resources>/logs/download/{dataset}/{filename}.log",
    retries: 2
    # No params at all, so nothing here can make a finished study stale: the output is the
    # original file, checksum-verified, the same bytes whatever code fetched it and wherever it
    # was found. Snakemake reruns a job whose params changed, so `datasets.<name>.source_dir` is
    # not a param: this local rule's run block reads it from the loaded config when it runs (a
    # run block runs in Snakemake's own Python, which already imports cvrepro to load the
    # config, so it has no conda env; its text is not a rerun trigger, see profiles/default).
    run:
        fetch_original(wildcards.dataset, Path(output[0]), log[0])


rule prepare:
    input:
        get_dataset_files,
    # update(): snakemake would delete a good prepared directory before rerunning prepare (e.g.
    # after a download changed) and lose it if prepare then fails on a damaged file; flagged, it is
    # backed up and restored on failure. prepare_dataset itself replaces it only when complete.
    output:
        update(directory(paths.PREPARED)),
    log:
        "<resources>/logs/prepare/{dataset}.log",
    params:
        code=code_fingerprint("../scripts/prepare.py"),
        options=get_dataset_options,
        # A rehearsal's originals are synthetic: verified against their own checksums.
        synthetic=CONFIG["rehearsal"],
    # A declared dataset (a folder, a CSV) decodes its images on every core Snakemake was given;
    # a built-in's preparation reads one archive, in one thread.
    threads: lambda wildcards: (workflow.cores or 1) if is_declared(get_dataset_options(wildcards)) else 1
    benchmark:
        "<resources>/benchmarks/prepare/{dataset}.tsv"
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/prepare.py"
