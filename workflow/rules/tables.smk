# Tables: one data frame per table, written as CSV and Markdown, with the source report's
# numbers beside ours where the study gives them.


rule table:
    input:
        unpack(get_table_inputs),
    output:
        csv="results/{study}/tables/{table}.csv",
        md="results/{study}/tables/{table}.md",
    log:
        "results/{study}/logs/table/{table}.log",
    params:
        spec=get_table_spec,
    conda:
        "../../envs/cvrepro.yaml"
    script:
        "../scripts/table.py"
