# Figures: one rule for every kind; get_figure_inputs picks what each kind reads, by role and
# row: Snakemake gets every file as input, the script the same files by name (params.inputs).


rule figure:
    input:
        lambda wildcards: manifest_files(get_figure_inputs(wildcards)),
    output:
        png=report(
            paths.FIGURE,
            caption="../report/figure.rst",
            category="{study}",
            subcategory="figures",
            labels={"figure": "{figure}"},
        ),
    log:
        "<results>/{study}/logs/figure/{figure}.log",
    params:
        code=code_fingerprint("../scripts/plot.py"),
        spec=get_figure_spec,
        inputs=get_figure_inputs,
        caption=lambda wildcards: rst_escape(study_of(wildcards).figures[wildcards.figure]["caption"]),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/plot.py"
