# The final report: REPORT.md per study from its tables, figures and job metrics, an index of
# studies, and report() on tables and figures for `snakemake --report`.


from cvrepro.nets.preprocess_table import preprocessing_markdown


# Small file-assembly jobs: run on the submitting machine, not as cluster jobs.
localrules:
    report,
    report_index,


rule report:
    input:
        lambda wildcards: manifest_files(get_report_inputs(wildcards)),
    output:
        paths.REPORT,
    log:
        "<results>/{study}/logs/report.log",
    params:
        code=code_fingerprint("../scripts/report.py"),
        description=lambda wildcards: STUDIES[wildcards.study].spec["description"],
        inputs=get_report_inputs,
        figures=lambda wildcards: {name: f["caption"] for name, f in STUDIES[wildcards.study].figures.items()},
        jobs=get_report_jobs,
        caveats=get_report_caveats,
        fidelity=lambda wildcards: study_of(wildcards).spec["fidelity"],
        rehearsal=get_rehearsal_plan,
        # REPORT.md's "Preprocessing per model" ("" for a study without ImageNet weights)
        preprocessing=lambda wildcards: preprocessing_markdown(study_of(wildcards)),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/report.py"


rule report_index:
    input:
        reports=expand(paths.REPORT, study=list(STUDIES)),
        metrics=[path for name in STUDIES for path in job_metrics_files(name)],
    output:
        paths.INDEX,
    log:
        "<results>/logs/report_index.log",
    params:
        code=code_fingerprint("../scripts/report.py"),
        studies=get_index_studies,
        metrics={name: job_metrics_files(name) for name in STUDIES},
        rehearsal=CONFIG["rehearsal"],
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/report.py"
