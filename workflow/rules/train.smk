rule train_cell:
    input:
        base=f"{RESULTS}/receipts/base/{{model_size}}.json",
        subset=f"{RESULTS}/receipts/subset/{{source}}-{{data_size}}-seed{{seed}}.json",
    output:
        f"{RESULTS}/receipts/sft/{{model_size}}/{{source}}-{{data_size}}-seed{{seed}}.json",
    params:
        store=STORE,
        spec=sft_params,
        cell=cell_params,
    log:
        f"{RESULTS}/logs/train/{{model_size}}/{{source}}-{{data_size}}-seed{{seed}}.log",
    threads: 1
    conda:
        ENV
    script:
        "../scripts/train_cell.py"
