# Architecture searches. Only best.json (written last by the search) is declared: history.jsonl,
# state/ snapshots and checkpoints/ must survive an interrupted job so that a rerun resumes.
# eatnas.stages.resume keeps them when the job's inputs are unchanged and moves them to <out>.stale/
# when the inputs changed (another config or offspring), so that the search then starts afresh.
# Every heavy stage runs through `python -m eatnas.stages.gpus --gpus {resources.gpu} --`: it claims
# free device ids, sets CUDA_VISIBLE_DEVICES and execs the stage command (see src/eatnas/stages/gpus.py).


rule search_small:
    """Evolutionary search on the small (proxy) dataset."""
    input:
        config=ancient(RESOLVED_CONFIG),
    output:
        best=f"{R}/search_small/best.json",
    log:
        f"{LOGS}/search_small.log",
    benchmark:
        f"{BENCH}/search_small.tsv"
    params:
        key=config_key(config, "search_small"),
        out=lambda w, output: os.path.dirname(output.best),
    threads: config["threads"]
    resources:
        gpu=search_gpus(config, "search_small"),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.resume --out {params.out} --key {params.key} > {log} 2>&1 &&"
        " python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas search --config {input.config} --stage search_small --out {params.out} >> {log} 2>&1"


rule search_large:
    """Search on the large dataset, seeded with the elastic-transfer offspring."""
    input:
        config=ancient(RESOLVED_CONFIG),
        offspring=f"{R}/transfer/offspring.json",
    output:
        best=f"{R}/search_large/best.json",
    log:
        f"{LOGS}/search_large.log",
    benchmark:
        f"{BENCH}/search_large.tsv"
    params:
        key=config_key(config, "search_large"),
        out=lambda w, output: os.path.dirname(output.best),
    threads: config["threads"]
    resources:
        gpu=search_gpus(config, "search_large"),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.resume --out {params.out} --key {params.key} {input.offspring} > {log} 2>&1 &&"
        " python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas search --config {input.config} --stage search_large"
        " --init {input.offspring} --out {params.out} >> {log} 2>&1"


rule search_large_scratch:
    """Baseline: the same large-dataset search from a random population."""
    input:
        config=ancient(RESOLVED_CONFIG),
    output:
        best=f"{R}/search_large_scratch/best.json",
    log:
        f"{LOGS}/search_large_scratch.log",
    benchmark:
        f"{BENCH}/search_large_scratch.tsv"
    params:
        key=config_key(config, "search_large_scratch"),
        out=lambda w, output: os.path.dirname(output.best),
    threads: config["threads"]
    resources:
        gpu=search_gpus(config, "search_large"),
        mem_mb=config["resources"]["mem_mb"],
    conda:
        "../envs/eatnas.yaml"
    shell:
        "python -m eatnas.stages.resume --out {params.out} --key {params.key} > {log} 2>&1 &&"
        " python -m eatnas.stages.gpus --gpus {resources.gpu} -- python -m eatnas search --config {input.config} --stage search_large_scratch"
        " --out {params.out} >> {log} 2>&1"
