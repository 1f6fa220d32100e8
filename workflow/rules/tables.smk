# Tables: one data frame per table, written as CSV and Markdown, with the source report's
# numbers beside ours where the study gives them.


# Small pandas jobs: not worth a cluster submission and its status polling.
localrules:
    table,


rule table:
    input:
        lambda wildcards: manifest_files(get_table_inputs(wildcards)),
    output:
        csv=report(
            f"{paths.TABLE}.csv",
            caption="../report/table.rst",
            category="{study}",
            subcategory="tables",
            labels={"table": "{table}"},
        ),
        md=f"{paths.TABLE}.md",
        compare=f"{paths.TABLE}.compare.csv",
    log:
        "<results>/{study}/logs/table/{table}.log",
    params:
        code=code_fingerprint("../scripts/table.py"),
        spec=get_table_spec,
        # The same files by role and row (cvrepro.report.grouping): the script reads them by name.
        inputs=get_table_inputs,
        caption=lambda wildcards: rst_escape(study_of(wildcards).tables[wildcards.table]["caption"]),
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/table.py"
