# Figures: one rule for every kind; get_figure_inputs picks what each kind reads.


rule figure:
    input:
        get_figure_inputs,
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
        caption=lambda wildcards: rst_escape(study_of(wildcards).figures[wildcards.figure]["caption"]),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/plot.py"
