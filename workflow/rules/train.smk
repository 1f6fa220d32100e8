# Training: one job per run; the GPU is claimed through the `gpu` resource.


rule train:
    input:
        unpack(get_train_inputs),
    output:
        model=f"{paths.RUN}/model.pt",
        history=f"{paths.RUN}/history.csv",
        steps=f"{paths.RUN}/steps.csv",
        metrics=f"{paths.RUN}/metrics.json",
        grad_flow=f"{paths.RUN}/grad_flow.csv",
    log:
        "<results>/{study}/logs/train/{run}.log",
    benchmark:
        "<results>/{study}/benchmarks/train/{run}.tsv"
    params:
        code=code_fingerprint("../scripts/train.py"),
        run=get_run_params,
        splits=get_run_splits,
        # Resumable state after every epoch; not an output, so a killed job's progress survives.
        resume=get_resume_file,
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
        "../scripts/train.py"
