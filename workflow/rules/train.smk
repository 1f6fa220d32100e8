# Training: one job per run; the GPU is claimed through the `gpu` resource.


rule train:
    input:
        unpack(get_train_inputs),
    output:
        model="results/{study}/runs/{run}/model.pt",
        history="results/{study}/runs/{run}/history.csv",
        metrics="results/{study}/runs/{run}/metrics.json",
    log:
        "results/{study}/logs/train/{run}.log",
    benchmark:
        "results/{study}/benchmarks/train/{run}.tsv"
    params:
        hp=get_train_params,
        device=CONFIG["device"],
    threads: CONFIG["threads"]
    resources:
        gpu=uses_gpu(),
    script:
        "../scripts/train.py"
