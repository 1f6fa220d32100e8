# Pretraining (SimCLR, triplet): an encoder that runs can start from (`init: <name>`).


rule pretrain:
    input:
        unpack(get_pretrain_inputs),
    output:
        model=f"{paths.PRETRAIN}/model.pt",
        history=f"{paths.PRETRAIN}/history.csv",
        steps=f"{paths.PRETRAIN}/steps.csv",
        metrics=f"{paths.PRETRAIN}/metrics.json",
    log:
        "<results>/{study}/logs/pretrain/{run}.log",
    benchmark:
        "<results>/{study}/benchmarks/pretrain/{run}.tsv"
    params:
        code=code_fingerprint("../scripts/pretrain.py"),
        pretraining=get_pretraining_params,
        splits=get_pretraining_splits,
        resume=get_resume_file,
        device=CONFIG["device"],
        precision=CONFIG["precision"],
    threads: CONFIG["threads"]
    resources:
        gpu=uses_gpu(),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/pretrain.py"
