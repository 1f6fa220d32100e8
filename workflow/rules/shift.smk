# Distribution shift: corrupted copies of a subset, and BatchNorm sweeps of runs on them.


rule shift:
    input:
        unpack(get_shift_inputs),
    output:
        directory(paths.SHIFTED),
    log:
        "<results>/{study}/logs/shift/{shift}.log",
    params:
        code=code_fingerprint("../scripts/shift.py"),
        split=get_shift_split,
        conditions=get_shift_conditions,
        seed=get_shift_seed,
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/shift.py"


rule bn_sweep:
    input:
        model=f"{paths.RUN}/model.pt",
        shift=get_sweep_shift_dir,
    output:
        paths.SWEEP,
    log:
        "<results>/{study}/logs/bn_sweep/{sweep}/{run}.log",
    benchmark:
        "<results>/{study}/benchmarks/bn_sweep/{sweep}/{run}.tsv"
    params:
        code=code_fingerprint("../scripts/bn_sweep.py"),
        spec=get_sweep_spec,
        device=CONFIG["device"],
        precision=CONFIG["precision"],
    threads: CONFIG["threads"]
    resources:
        gpu=uses_gpu(),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/bn_sweep.py"
