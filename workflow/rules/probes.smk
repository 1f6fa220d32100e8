# Feature extraction and probes: frozen representations scored with scikit-learn classifiers.


rule extract:
    input:
        unpack(get_extract_inputs),
    output:
        paths.FEATURES,
    log:
        "<results>/{study}/logs/extract/{source}/{layer}/{subset}.log",
    params:
        code=code_fingerprint("../scripts/extract.py"),
        split=get_eval_split,
        imagenet_arch=get_imagenet_arch,
        init_seed=get_init_seed,
        random_weights=RANDOM_WEIGHTS,
        imagenet_weights=get_imagenet_weights,
        device=CONFIG["device"],
        precision=CONFIG["precision"],
    threads: CONFIG["threads"]
    resources:
        gpu=uses_gpu(),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/extract.py"


rule probe:
    input:
        unpack(get_probe_inputs),
    output:
        metrics=f"{paths.PROBE}/metrics.json",
        predictions=f"{paths.PROBE}/predictions.npz",
        history=f"{paths.PROBE}/history.csv",
    log:
        "<results>/{study}/logs/probe/{probe}.log",
    params:
        code=code_fingerprint("../scripts/probe.py"),
        spec=get_probe_params,
    threads: 1
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/probe.py"
