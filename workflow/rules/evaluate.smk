# Evaluation of a trained run on a subset: accuracy, per-class accuracy, confusion matrix,
# precision/recall/F1, and the predictions themselves.


rule evaluate:
    input:
        unpack(get_eval_inputs),
    output:
        metrics=f"{paths.EVAL}/metrics.json",
        predictions=f"{paths.EVAL}/predictions.npz",
    log:
        "<results>/{study}/logs/evaluate/{run}/{subset}.log",
    benchmark:
        "<results>/{study}/benchmarks/evaluate/{run}/{subset}.tsv"
    params:
        code=code_fingerprint("../scripts/evaluate.py"),
        split=get_eval_split,
        batch_size=get_eval_batch_size,
        device=CONFIG["device"],
        precision=CONFIG["precision"],
    threads: CONFIG["threads"]
    resources:
        gpu=uses_gpu(),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/evaluate.py"
