# Subsets: seeded, stratified index arrays into a prepared split (nested via `within`,
# disjoint via `exclude`).


rule subset:
    input:
        unpack(get_subset_inputs),
    output:
        index=f"{paths.SUBSET}.npy",
        summary=f"{paths.SUBSET}.json",
    log:
        "<results>/{study}/logs/subset/{subset}.log",
    params:
        code=code_fingerprint("../scripts/subset.py"),
        spec=get_subset_params,
        refs=get_subset_refs,
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/subset.py"
